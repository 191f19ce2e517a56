// Package directory keeps an in-memory index of the on-premises AD directory (the
// adjoin_directory bucket) by every name an entity can be found by, and resolves sensor entity
// references against it in the DESIGN.md order of trust: SID, objectGUID, DOMAIN\sam or UPN,
// FQDN, NetBIOS name. The correlator, the badge service and the endpoint ingestor share it.
//
// The index holds a million entities in about 230 bytes of heap each (see Index): entries are
// decoded from the bucket's bytes straight into fixed-size records and one string arena, and
// Get and Resolve build a fresh *adjoinv1.Entity for each answer. Follow loads a bucket on two
// goroutines (load.go): the watcher's decodes entries, another indexes them in their order.
//
// A first load starts from the bucket's latest snapshot when one is usable (snapshot.go for
// the layout, snapshotload.go for the checks), then follows the bucket from the sequence
// after it; SnapshotKeeper, run by the correlator, writes it.
package directory
