// Command adjoin-badge runs the badge service; see package badge for what it does.
package main

import (
	"context"
	"os"
	"sync"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/gcx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/badge"
)

func main() {
	var cfg badge.Config
	os.Exit(svcmain.Main("adjoin-badge", doc, os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		// The directory index is most of this process's heap: collect after a bounded headroom
		// rather than after as much again, a larger one while it loads (see gcx). A process-wide
		// setting, so it is made here and not in Run, which `adjoin dev` runs beside the other
		// services.
		loaded := make(chan struct{})
		cfg.Loaded = sync.OnceFunc(func() { close(loaded) })
		gcx.BoundHeadroomAfter(ctx, loaded, gcx.DefaultLoadHeadroom, gcx.DefaultHeadroom, gcx.DefaultEvery)
		return badge.Run(ctx, cfg, log)
	}))
}

// doc is what --help says before the settings.
var doc = svcmain.Doc{
	About: `adjoin-badge answers gRPC (adjoin.v1.BadgeService): per-entity badges with the counts of each
side (greyed when a side does not know the entity or the integration is off), batches, live
watches, an entity's timeline, the correlated stream with a resume cursor, the integration
toggles and the status page. It serves from memory, kept current by KV watchers.`,
	Example: "ADJOIN_NATS_URL=nats://127.0.0.1:4222 adjoin-badge --grpc-addr :9090 --tokens-file tokens",
}
