// Package chaos is adjoin's fault-injection suite: the real binaries (adjoin-dcingest,
// adjoin-correlator, nats-server built from its Go module) run as child processes against
// JetStream file storage with sync_interval always, faults are injected (SIGKILL of a service
// or of a NATS server, a cluster's stream leader killed, bad input, poison messages, hostile
// clients, the owner of COUNTS partitions SIGKILLed while another correlator takes over), and
// the outcome is checked against a ground truth computed in the test from the generated input
// alone. A correlator is done when WaitCorrelated says so: ALERTS and every COUNTS partition
// drained.
//
// This package holds the helpers (processes, NATS servers and clusters, input generators,
// senders, checks, verdicts); the scenarios are its tests. `go test` runs a reduced form
// (skipped under -short); ADJOIN_CHAOS=full (`make chaos`) runs the full one, and
// ADJOIN_CHAOS=off skips it.
package chaos
