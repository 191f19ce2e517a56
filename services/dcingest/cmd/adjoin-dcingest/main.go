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
	os.Exit(svcmain.Main("adjoin-dcingest", doc, os.Args[1:], cfg.Flags, func(ctx context.Context, log *zap.Logger) error {
		return dcingest.Run(ctx, cfg, log)
	}))
}

// doc is what --help says before the settings.
var doc = svcmain.Doc{
	About: `adjoin-dcingest is the identity side's ingestor: it takes domain-controller events (Windows
Security events over HTTP NDJSON, syslog or file tailing, a Samba AD DC's audit log, Zeek logs,
CEF and product alerts), stores them on DC_EVENTS, runs the identity detectors (DCSync,
Kerberoasting, golden tickets...) and publishes their alerts on ALERTS. It also syncs the
directory of AD users and computers (LDAP, or an LDIF export) into adjoin_directory.`,
	Example: "ADJOIN_NATS_URL=nats://127.0.0.1:4222 adjoin-dcingest --http-addr :8081 --directory-ldif export.ldif",
}
