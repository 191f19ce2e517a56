// Package authn is how adjoin's listeners decide who may talk to them: TLS and client
// certificates (mTLS), bearer tokens read from a file (re-read on change or SIGHUP, so a sender
// is cut off by removing its line), and the rule every production binary applies before it
// listens: a port that takes input or serves entity data on a non-loopback address needs
// authentication, unless the operator says --insecure. The badge service (gRPC) and both
// ingestors' HTTP intake share it, so the file format, the constant-time comparison and the
// refusal read the same everywhere.
package authn
