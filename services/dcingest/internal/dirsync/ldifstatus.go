package dirsync

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/heartbeat"
	"github.com/adjoin/adjoin/pkg/logx"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/dcingest/internal/adapters"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldapsource"
)

// RecordLDIF stores what an LDIF import did in adjoin_status, as a DirectorySync of source
// "ldif:<file>". It is best effort: a status that cannot be written is logged, not fatal.
func RecordLDIF(ctx context.Context, js jetstream.JetStream, source string, entities []*adjoinv1.Entity,
	res adapters.ImportResult, importErr error, log *zap.Logger) {
	kv, err := js.KeyValue(ctx, natsx.BucketStatus)
	if err != nil {
		log.Warn("cannot store the directory import status", logx.Err(err))
		return
	}
	rec, err := directory.GetSync(ctx, kv, source)
	if err != nil || rec == nil {
		rec = &adjoinv1.DirectorySync{Source: source}
	}
	now := timestamppb.Now()
	rec.Instance, rec.LastAttempt = heartbeat.Instance(), now
	if importErr != nil {
		rec.LastError, rec.LastErrorTime = importErr.Error(), now
		rec.Failures++
	} else {
		rec.LastSuccess, rec.LastKind = now, ldapsource.KindFull
		rec.Users, rec.Computers, rec.Disabled, rec.Privileged = 0, 0, 0, 0
		for _, e := range entities {
			switch e.GetKind() {
			case adjoinv1.EntityKind_ENTITY_KIND_USER:
				rec.Users++
			case adjoinv1.EntityKind_ENTITY_KIND_COMPUTER:
				rec.Computers++
			}
			if e.GetDisabled() {
				rec.Disabled++
			}
			if e.GetPrivileged() {
				rec.Privileged++
			}
		}
		rec.Written, rec.Unchanged, rec.Deleted = uint64(res.Written), uint64(res.Unchanged), 0
		rec.LastError, rec.LastErrorTime, rec.Failures = "", nil, 0
	}
	if err := directory.PutSync(ctx, kv, rec); err != nil {
		log.Warn("cannot store the directory import status", logx.Err(err))
	}
}
