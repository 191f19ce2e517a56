package ports

import (
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/services/correlator/internal/wire"
)

// correlatedCopy is the CORRELATED copy of m, the COUNTS message c was decoded from (for
// counting only, see wire.DecodeForCount): m's message with otherSide as its other-side ids,
// and without the fields stage 1 leaves empty. When they are empty (always, from this
// version's stage 1) the copy is m's payload with the ids appended, byte for byte what
// decoding it whole and marshalling it again would give (package wire).
func correlatedCopy(m jetstream.Msg, c *adjoinv1.CorrelatedAlert, otherSide []string) (*nats.Msg, error) {
	subject, id := natsx.CorrelatedSubject(isComputer(m.Subject()), c.GetEntityKey()), copyID(m, c)
	if c.GetReason() == "" && c.GetIncidentId() == "" && len(c.GetOtherSideAlertIds()) == 0 {
		return wire.Msg(subject, id, wire.WithOtherSide(m.Data(), otherSide)), nil
	}
	var full adjoinv1.CorrelatedAlert
	if err := natsx.Decode(m.Headers(), m.Data(), &full); err != nil {
		return nil, err
	}
	out := &adjoinv1.CorrelatedAlert{
		Alert: full.GetAlert(), Resolutions: full.GetResolutions(), EntityKey: full.GetEntityKey(),
		CorrelatedTime: full.GetCorrelatedTime(), OtherSideAlertIds: otherSide,
	}
	return natsx.NewMsg(subject, id, out)
}

// copyID is the correlated copy's Nats-Msg-Id: the COUNTS message's own, which stage 1 made
// the id today's correlated copy has (alert id, version, entity).
func copyID(m jetstream.Msg, c *adjoinv1.CorrelatedAlert) string {
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
		return id
	}
	a := c.GetAlert()
	return entity.HashID("correlated", a.GetId(), strconv.FormatInt(max(a.GetVersion(), 1), 10), c.GetEntityKey())
}
