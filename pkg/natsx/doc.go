// Package natsx is adjoin's one place for NATS: connecting with reconnect and backoff, the
// streams and KV buckets of the DESIGN.md contract and their idempotent provisioning, publishing
// protobuf payloads with the contract's headers and deduplication ids, dead-lettering, and an
// embedded JetStream server for `adjoin dev` and for tests.
package natsx
