package natsx

import (
	"hash/fnv"
	"strconv"
)

// DefaultPartitions is the number of COUNTS partitions a new installation gets. It is recorded
// in adjoin_config on the correlator's first start; changing it later is a migration.
const DefaultPartitions = 8

// Partition returns the partition of an entity key among n: fnv32a(key) mod n. n below 1
// counts as 1, so every key falls in partition 0.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// CountsSubject is the COUNTS subject of an entity in partition p:
// counts.<p>.computer.<key> for a computer, counts.<p>.user.<key> otherwise, the key made one
// bounded token as in CorrelatedSubject.
func CountsSubject(p int, computer bool, key string) string {
	kind := "user"
	if computer {
		kind = "computer"
	}
	return SubjectCounts + "." + strconv.Itoa(p) + "." + kind + "." + KeyToken(key)
}

// CountsFilter is the subject filter of partition p: counts.<p>.>.
func CountsFilter(p int) string {
	return SubjectCounts + "." + strconv.Itoa(p) + ".>"
}

// ConfigPartitionsKey is the adjoin_config key where the correlator records the number of
// COUNTS partitions on its first start.
const ConfigPartitionsKey = "counts.partitions"

// CounterDurable is the name of the consumer of COUNTS partition p, for the correlator whose
// ALERTS durable is durable: "<durable>-count-<p>".
func CounterDurable(durable string, p int) string {
	return durable + "-count-" + strconv.Itoa(p)
}
