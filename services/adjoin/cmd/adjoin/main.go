//go:debug x509negativeserial=1

// Command adjoin is the all-in-one binary: `adjoin dev` runs the whole stack on an embedded
// JetStream server, and the client commands talk to a running deployment.
//
// As in adjoin-dcingest, the directive above lets `adjoin dev --ldap-url` reach a lab Samba
// DC, whose self-generated LDAPS certificate may have a negative serial number, which Go
// refuses otherwise.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/adjoin/adjoin/services/adjoin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := adjoin.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
