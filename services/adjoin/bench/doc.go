// Package bench is the measuring code of `adjoin bench`: in one run, on one machine and one
// embedded JetStream server with file storage, it measures the raw JetStream baseline adjoin
// sits on, adjoin end to end (alerts injected into ALERTS as the ingestors publish them,
// correlated and counted by the real adjoin-correlator binary, read back through the real
// adjoin-badge binary's gRPC API) over directories of several sizes, the ingestors' parse +
// detect rate on the recordings of shared/data, GetBadge beside a minimal gRPC server, and the
// resident memory per entity of both binaries, and the growth of the correlator's cost with an
// entity's history (alerts on one user against as many spread over 10,000); each in the sync
// modes asked for, each with the share of the CPU other processes took meanwhile. Run prints one table with the ratios
// adjoin/baseline and returns a Report that can be written as JSON and compared across commits.
package bench
