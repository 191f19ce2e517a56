package app

import (
	"strconv"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// Subjects of the CORRELATED stream.
const (
	SubjectExcluded   = natsx.SubjectExcluded
	SubjectUnresolved = natsx.SubjectUnresolved
)

// EntitySubject is correlated.user.<key> or correlated.computer.<key>.
func EntitySubject(kind adjoinv1.EntityKind, key string) string {
	return natsx.CorrelatedSubject(kind == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, key)
}

// CountsSubject is the COUNTS subject of an entity among partitions (0: the default number).
func CountsSubject(kind adjoinv1.EntityKind, key string, partitions int) string {
	if partitions <= 0 {
		partitions = natsx.DefaultPartitions
	}
	return natsx.CountsSubject(natsx.Partition(key, partitions), kind == adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, key)
}

// msgID deduplicates one version of an alert published for one entity: the COUNTS message and
// the correlated copy the partition owner publishes from it carry the same id.
func msgID(a *adjoinv1.Alert, key string) string {
	return entity.HashID("correlated", a.GetId(), strconv.FormatInt(max(a.GetVersion(), 1), 10), key)
}
