// Command adjoin-badge runs the badge service; see package badge for what it does.
package main

import (
	"context"
	"os"

	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/badge"
	"go.uber.org/zap"
)

func main() {
	var cfg badge.Config
	os.Exit(svcmain.Main("adjoin-badge", os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return badge.Run(ctx, cfg, log)
	}))
}
