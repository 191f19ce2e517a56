// Command adjoin-endpointingest runs the endpointingest service; see package endpointingest for what it does.
package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/endpointingest"
)

func main() {
	var cfg endpointingest.Config
	os.Exit(svcmain.Main("adjoin-endpointingest", os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return endpointingest.Run(ctx, cfg, log)
	}))
}
