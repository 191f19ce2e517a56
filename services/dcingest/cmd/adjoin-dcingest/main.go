//go:debug x509negativeserial=1

// Command adjoin-dcingest runs the dcingest service; see package dcingest for what it does.
//
// Go refuses certificates with a negative serial number unless told otherwise; Samba's
// self-generated LDAPS certificates have one, so the directive above lets --ldap-url reach a
// lab Samba DC.
package main

import (
	"context"
	"os"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/svcmain"
	"github.com/adjoin/adjoin/services/dcingest"
)

func main() {
	var cfg dcingest.Config
	os.Exit(svcmain.Main("adjoin-dcingest", os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return dcingest.Run(ctx, cfg, log)
	}))
}
