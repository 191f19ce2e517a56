// Command adjoin-correlator runs the correlator service; see package correlator for what it does.
package main

import (
	"context"
	"os"
	"sync"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/gcx"
	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/correlator"
)

func main() {
	var cfg correlator.Config
	os.Exit(svcmain.Main("adjoin-correlator", doc, os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		// The directory's load is collected after a bounded headroom, so that its garbage
		// reuses pages instead of doubling the heap; then the runtime's default again (see gcx).
		loaded := make(chan struct{})
		cfg.Loaded = sync.OnceFunc(func() { close(loaded) })
		gcx.BoundWhileLoading(ctx, loaded, gcx.DefaultLoadHeadroom, gcx.DefaultEvery)
		return correlator.Run(ctx, cfg, log)
	}))
}

// doc is what --help says before the settings.
var doc = svcmain.Doc{
	About: `adjoin-correlator resolves every alert on ALERTS to the AD users and computers it concerns,
counts it exactly once per entity and side in adjoin_badges, publishes it with the reason it was
joined on correlated.<kind>.<key>, and groups the alerts of both sides on linked entities into
incidents (incidents.<id>). Several instances share the work.`,
	Example: "ADJOIN_NATS_URL=nats://127.0.0.1:4222 adjoin-correlator --http-addr :8083",
}
