// Command adjoin-badge runs the badge service; see package badge for what it does.
package main

import (
	"context"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/gcx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/badge"
)

func main() {
	var cfg badge.Config
	os.Exit(svcmain.Main("adjoin-badge", os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		// The directory index is most of this process's heap: collect after a fixed headroom
		// rather than after as much again (see gcx). A process-wide setting, so it is made
		// here and not in Run, which `adjoin dev` runs beside the other services.
		gcx.BoundHeadroom(ctx, gcx.DefaultHeadroom, 5*time.Second)
		return badge.Run(ctx, cfg, log)
	}))
}
