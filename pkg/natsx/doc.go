// Package natsx is adjoin's one place for NATS: connecting with reconnect and backoff (user and
// password or password file, TLS and client certificates, a per-user reply inbox), the streams
// and KV buckets of the DESIGN.md contract, their idempotent provisioning by the admin and the
// services' wait for it (Ensure), publishing protobuf payloads with the contract's headers and
// deduplication ids, dead-lettering, and an embedded JetStream server for `adjoin dev` and for
// tests.
package natsx
