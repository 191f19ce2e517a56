// Command adjoin-correlator runs the correlator service; see package correlator for what it does.
package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/correlator"
)

func main() {
	var cfg correlator.Config
	os.Exit(svcmain.Main("adjoin-correlator", os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return correlator.Run(ctx, cfg, log)
	}))
}
