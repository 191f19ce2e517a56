package adjoin

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// natsCheck is one line of the permission matrix: an operation of a user, and the subject the
// server must refuse ("" when it must work; a trailing * matches any subject with that prefix).
type natsCheck struct {
	name   string
	denied string
	op     natsOp
}

func allow(name string, op natsOp) natsCheck { return natsCheck{name: name, op: op} }

func deny(name, subject string, op natsOp) natsCheck {
	return natsCheck{name: name, denied: subject, op: op}
}

// detectDurable is the detection runners' consumer (pkg/detection).
func detectDurable(name string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{Durable: name, AckWait: 30 * time.Second, MaxAckPending: 4096, DeliverPolicy: jetstream.DeliverAllPolicy}
}

// natsMatrix is, per user in order, every operation of the service and the forbidden ones
// that matter. Earlier users publish what later ones read.
func natsMatrix() []struct {
	user   string
	checks []natsCheck
} {
	return []struct {
		user   string
		checks []natsCheck
	}{
		{"dcingest", []natsCheck{
			allow("readiness", readyOp),
			allow("publish event", publishOp("events.dc.security.4624")),
			allow("publish alert", publishOp("alerts.identity.test")),
			allow("dead letter", deadLetterOp("dcingest")),
			allow("own durable", durableOp(natsx.StreamDCEvents, detectDurable("dcingest-detect"))),
			allow("write directory", kvPutOp(natsx.BucketDirectory)),
			allow("read directory", kvGetOp(natsx.BucketDirectory)),
			allow("watch directory", kvWatchOp(natsx.BucketDirectory)),
			allow("write status", kvPutOp(natsx.BucketStatus)),
			allow("read status", kvGetOp(natsx.BucketStatus)),
			allow("watch status", kvWatchOp(natsx.BucketStatus)),
			deny("publish correlated", "correlated.user.x", publishOp("correlated.user.x")),
			deny("publish incident", "incidents.x", publishOp("incidents.x")),
			deny("publish endpoint event", "events.endpoint.x", publishOp("events.endpoint.x")),
			deny("publish endpoint alert", "alerts.endpoint.x", publishOp("alerts.endpoint.x")),
			deny("dead letter as another", "deadletter.correlator.test", deadLetterOp("correlator")),
			deny("delete stream", "$JS.API.STREAM.DELETE.DC_EVENTS", deleteStreamOp(natsx.StreamDCEvents)),
			deny("purge stream", "$JS.API.STREAM.PURGE.DC_EVENTS", purgeStreamOp(natsx.StreamDCEvents)),
			deny("update stream", "$JS.API.STREAM.UPDATE.DC_EVENTS", updateStreamOp(natsx.StreamDCEvents)),
			deny("create stream", "$JS.API.STREAM.CREATE.EVIL", createStreamOp("EVIL", "evil.>")),
			deny("delete bucket", "$JS.API.STREAM.DELETE.KV_adjoin_directory", deleteStreamOp("KV_adjoin_directory")),
			deny("write badges", "$KV.adjoin_badges.test.dcingest", kvPutOp(natsx.BucketBadges)),
			deny("write devices", "$KV.adjoin_devices.test.dcingest", kvPutOp(natsx.BucketDevices)),
			deny("write config", "$KV.adjoin_config.test.dcingest", kvPutOp(natsx.BucketConfig)),
			deny("read config", "$JS.API.DIRECT.GET.KV_adjoin_config*", kvGetOp(natsx.BucketConfig)),
			deny("watch badges", "$JS.API.CONSUMER.CREATE.KV_adjoin_badges*", kvWatchOp(natsx.BucketBadges)),
			deny("read ALERTS", "$JS.API.CONSUMER.CREATE.ALERTS*", orderedOp(natsx.StreamAlerts)),
			deny("another's durable", "$JS.API.CONSUMER.INFO.ENDPOINT_EVENTS.endpointingest-detect",
				otherDurableOp(natsx.StreamEndpointEvents, "endpointingest-detect")),
			deny("all replies", "_INBOX.>", subscribeOp("_INBOX.>")),
			deny("another's replies", "_INBOX_correlator.>", subscribeOp("_INBOX_correlator.>")),
			deny("sniff events", "events.>", subscribeOp("events.>")),
		}},
		{"endpointingest", []natsCheck{
			allow("readiness", readyOp),
			allow("read the directory snapshot", objectReadOp(natsx.BucketDirectorySnapshot, "directory")),
			allow("publish event", publishOp("events.endpoint.security.4624")),
			allow("publish alert", publishOp("alerts.endpoint.test")),
			allow("dead letter", deadLetterOp("endpointingest")),
			allow("own durable", durableOp(natsx.StreamEndpointEvents, detectDurable("endpointingest-detect"))),
			allow("write devices", kvCASOp(natsx.BucketDevices)),
			allow("put devices", kvPutOp(natsx.BucketDevices)),
			allow("read devices", kvGetOp(natsx.BucketDevices)),
			allow("read directory", kvGetOp(natsx.BucketDirectory)),
			allow("watch directory", kvWatchOp(natsx.BucketDirectory)),
			allow("write status", kvPutOp(natsx.BucketStatus)),
			allow("watch status", kvWatchOp(natsx.BucketStatus)),
			deny("write directory", "$KV.adjoin_directory.test.endpointingest", kvPutOp(natsx.BucketDirectory)),
			deny("write badges", "$KV.adjoin_badges.test.endpointingest", kvPutOp(natsx.BucketBadges)),
			deny("publish DC event", "events.dc.x", publishOp("events.dc.x")),
			deny("publish identity alert", "alerts.identity.x", publishOp("alerts.identity.x")),
			deny("publish correlated", "correlated.computer.x", publishOp("correlated.computer.x")),
			deny("delete stream", "$JS.API.STREAM.DELETE.ENDPOINT_EVENTS", deleteStreamOp(natsx.StreamEndpointEvents)),
			deny("purge stream", "$JS.API.STREAM.PURGE.ALERTS", purgeStreamOp(natsx.StreamAlerts)),
			deny("another's durable", "$JS.API.CONSUMER.INFO.DC_EVENTS.dcingest-detect",
				otherDurableOp(natsx.StreamDCEvents, "dcingest-detect")),
			deny("delete another's durable", "$JS.API.CONSUMER.DELETE.DC_EVENTS.dcingest-detect",
				deleteConsumerOp(natsx.StreamDCEvents, "dcingest-detect")),
			deny("all replies", "_INBOX.>", subscribeOp("_INBOX.>")),
		}},
		{"correlator", []natsCheck{
			allow("readiness", readyOp),
			allow("own durable on ALERTS", durableOp(natsx.StreamAlerts, jetstream.ConsumerConfig{Durable: "correlator",
				AckWait: 30 * time.Second, MaxAckPending: 1024, DeliverPolicy: jetstream.DeliverAllPolicy})),
			allow("publish correlated user", publishOp("correlated.user.test")),
			allow("publish correlated computer", publishOp("correlated.computer.test")),
			allow("publish excluded", publishOp(natsx.SubjectExcluded)),
			allow("publish unresolved", publishOp(natsx.SubjectUnresolved)),
			allow("publish incident", publishOp("incidents.test")),
			allow("dead letter", deadLetterOp("correlator")),
			allow("incidents durable on CORRELATED", durableOp(natsx.StreamCorrelated, jetstream.ConsumerConfig{
				Durable: "correlator-incidents", AckWait: 30 * time.Second, MaxAckPending: 256,
				FilterSubjects: []string{natsx.SubjectCorrelatedUser + ".*", natsx.SubjectCorrelatedComputer + ".*"},
				PriorityGroups: []string{"builder"}, PriorityPolicy: jetstream.PriorityPolicyPinned, PinnedTTL: 30 * time.Second})),
			allow("DC logon feed", orderedOp(natsx.StreamDCEvents, "events.dc.security.4624", "events.dc.security.4768", "events.dc.security.4769")),
			allow("endpoint logon feed", orderedOp(natsx.StreamEndpointEvents, "events.endpoint.security.4624", "events.endpoint.microsoft-windows-sysmon_operational.3")),
			allow("record partitions", kvCreateOp(natsx.BucketConfig, "counts.partitions")),
			allow("publish counts", publishOp("counts.0.user.test")),
			allow("partition owner durable on COUNTS", durableOp(natsx.StreamCounts, jetstream.ConsumerConfig{
				Durable: "correlator-count-0", AckWait: 30 * time.Second, MaxAckPending: 512, FilterSubject: "counts.0.>",
				PriorityGroups: []string{"counter"}, PriorityPolicy: jetstream.PriorityPolicyPinned, PinnedTTL: 30 * time.Second})),
			allow("replay a partition", orderedOp(natsx.StreamCounts, "counts.0.>")),
			allow("snapshot a partition", objectOp(natsx.BucketCounter, "p0")),
			allow("snapshot the directory", objectOp(natsx.BucketDirectorySnapshot, "directory")),
			allow("last record revision", lastMsgOp("KV_"+natsx.BucketBadges, "$KV.adjoin_badges.>")),
			allow("replay correlated", orderedOp(natsx.StreamCorrelated, "correlated.user.*", "correlated.computer.*")),
			allow("count on badges", kvCASOp(natsx.BucketBadges)),
			allow("read badges", kvGetOp(natsx.BucketBadges)),
			allow("keep pending", kvCASOp(natsx.BucketPending)),
			allow("list pending", kvWatchOp(natsx.BucketPending)),
			allow("write incidents", kvPutOp(natsx.BucketIncidents)),
			allow("read incidents", kvGetOp(natsx.BucketIncidents)),
			allow("read directory", kvGetOp(natsx.BucketDirectory)),
			allow("watch directory", kvWatchOp(natsx.BucketDirectory)),
			allow("heartbeat", kvPutOp(natsx.BucketStatus)),
			deny("publish DC event", "events.dc.x", publishOp("events.dc.x")),
			deny("publish alert", "alerts.identity.x", publishOp("alerts.identity.x")),
			deny("dead letter as another", "deadletter.dcingest.test", deadLetterOp("dcingest")),
			deny("read dcingest's durable", "$JS.API.CONSUMER.MSG.NEXT.DC_EVENTS.dcingest-detect",
				otherDurableOp(natsx.StreamDCEvents, "dcingest-detect")),
			deny("take over dcingest's durable", "$JS.API.CONSUMER.CREATE.DC_EVENTS.dcingest-detect",
				durableOp(natsx.StreamDCEvents, detectDurable("dcingest-detect"))),
			deny("read endpointingest's durable", "$JS.API.CONSUMER.MSG.NEXT.ENDPOINT_EVENTS.endpointingest-detect",
				otherDurableOp(natsx.StreamEndpointEvents, "endpointingest-detect")),
			deny("delete endpointingest's durable", "$JS.API.CONSUMER.DELETE.ENDPOINT_EVENTS.endpointingest-detect",
				deleteConsumerOp(natsx.StreamEndpointEvents, "endpointingest-detect")),
			deny("write directory", "$KV.adjoin_directory.test.correlator", kvPutOp(natsx.BucketDirectory)),
			deny("write devices", "$KV.adjoin_devices.test.correlator", kvPutOp(natsx.BucketDevices)),
			deny("write config", "$KV.adjoin_config.test.correlator", kvPutOp(natsx.BucketConfig)),
			deny("delete stream", "$JS.API.STREAM.DELETE.CORRELATED", deleteStreamOp(natsx.StreamCorrelated)),
			deny("purge stream", "$JS.API.STREAM.PURGE.ALERTS", purgeStreamOp(natsx.StreamAlerts)),
			deny("update stream", "$JS.API.STREAM.UPDATE.CORRELATED", updateStreamOp(natsx.StreamCorrelated)),
			deny("delete bucket", "$JS.API.STREAM.DELETE.KV_adjoin_badges", deleteStreamOp("KV_adjoin_badges")),
			deny("all replies", "_INBOX.>", subscribeOp("_INBOX.>")),
		}},
		{"badge", []natsCheck{
			allow("readiness", readyOp),
			allow("read the directory snapshot", objectReadOp(natsx.BucketDirectorySnapshot, "directory")),
			allow("watch badges", kvWatchOp(natsx.BucketBadges)),
			allow("read badges", kvGetOp(natsx.BucketBadges)),
			allow("watch devices", kvWatchOp(natsx.BucketDevices)),
			allow("read devices", kvGetOp(natsx.BucketDevices)),
			allow("watch directory", kvWatchOp(natsx.BucketDirectory)),
			allow("read directory", kvGetOp(natsx.BucketDirectory)),
			allow("watch config", kvWatchOp(natsx.BucketConfig)),
			allow("watch incidents", kvWatchOp(natsx.BucketIncidents)),
			deny("read an incident by key", "$JS.API.DIRECT.GET.KV_adjoin_incidents*", kvGetOp(natsx.BucketIncidents)),
			deny("write incidents", "$KV.adjoin_incidents.test.badge", kvPutOp(natsx.BucketIncidents)),
			allow("toggle integration", kvPutOp(natsx.BucketConfig)),
			allow("list heartbeats", kvWatchOp(natsx.BucketStatus)),
			allow("read status", kvGetOp(natsx.BucketStatus)),
			allow("heartbeat", kvPutOp(natsx.BucketStatus)),
			allow("status facts", statusFactsOp),
			allow("timeline", orderedOp(natsx.StreamCorrelated, "correlated.user.test")),
			allow("correlated stream", orderedOp(natsx.StreamCorrelated, "correlated.user.>", "correlated.computer.>")),
			deny("publish correlated", "correlated.user.x", publishOp("correlated.user.x")),
			deny("publish alert", "alerts.identity.x", publishOp("alerts.identity.x")),
			deny("publish event", "events.dc.x", publishOp("events.dc.x")),
			deny("dead letter", "deadletter.badge.test", deadLetterOp("badge")),
			deny("write badges", "$KV.adjoin_badges.test.badge", kvPutOp(natsx.BucketBadges)),
			deny("write devices", "$KV.adjoin_devices.test.badge", kvPutOp(natsx.BucketDevices)),
			deny("write directory", "$KV.adjoin_directory.test.badge", kvPutOp(natsx.BucketDirectory)),
			deny("read pending", "$JS.API.DIRECT.GET.KV_adjoin_pending*", kvGetOp(natsx.BucketPending)),
			deny("read the correlator's durable", "$JS.API.CONSUMER.MSG.NEXT.ALERTS.correlator",
				otherDurableOp(natsx.StreamAlerts, "correlator")),
			deny("read the incidents durable", "$JS.API.CONSUMER.MSG.NEXT.CORRELATED.correlator-incidents",
				otherDurableOp(natsx.StreamCorrelated, "correlator-incidents")),
			deny("delete the incidents durable", "$JS.API.CONSUMER.DELETE.CORRELATED.correlator-incidents",
				deleteConsumerOp(natsx.StreamCorrelated, "correlator-incidents")),
			deny("read ALERTS", "$JS.API.CONSUMER.CREATE.ALERTS*", orderedOp(natsx.StreamAlerts)),
			deny("get a DC event", "$JS.API.STREAM.MSG.GET.DC_EVENTS", getMsgOp(natsx.StreamDCEvents)),
			deny("purge stream", "$JS.API.STREAM.PURGE.CORRELATED", purgeStreamOp(natsx.StreamCorrelated)),
			deny("delete bucket", "$JS.API.STREAM.DELETE.KV_adjoin_config", deleteStreamOp("KV_adjoin_config")),
			deny("all replies", "_INBOX.>", subscribeOp("_INBOX.>")),
		}},
		{"viewer", []natsCheck{
			allow("tail alerts", tailOp("alerts.>")),
			allow("tail correlated", tailOp("correlated.>")),
			allow("tail incidents", tailOp("incidents.>")),
			allow("tail dead letters", tailOp("deadletter.>")),
			allow("readiness", readyOp),
			deny("publish alert", "alerts.identity.x", publishOp("alerts.identity.x")),
			deny("publish correlated", "correlated.user.x", publishOp("correlated.user.x")),
			deny("publish incident", "incidents.x", publishOp("incidents.x")),
			deny("dead letter", "deadletter.viewer.test", deadLetterOp("viewer")),
			deny("read raw DC events", "$JS.API.CONSUMER.CREATE.DC_EVENTS*", orderedOp(natsx.StreamDCEvents)),
			deny("take over the correlator's durable", "$JS.API.CONSUMER.CREATE.ALERTS.correlator",
				durableOp(natsx.StreamAlerts, jetstream.ConsumerConfig{Durable: "correlator", AckWait: 30 * time.Second})),
			deny("read the correlator's durable", "$JS.API.CONSUMER.MSG.NEXT.ALERTS.correlator",
				otherDurableOp(natsx.StreamAlerts, "correlator")),
			deny("read the incidents durable", "$JS.API.CONSUMER.MSG.NEXT.CORRELATED.correlator-incidents",
				otherDurableOp(natsx.StreamCorrelated, "correlator-incidents")),
			deny("delete the incidents durable", "$JS.API.CONSUMER.DELETE.CORRELATED.correlator-incidents",
				deleteConsumerOp(natsx.StreamCorrelated, "correlator-incidents")),
			deny("read a bucket", "$JS.API.DIRECT.GET.KV_adjoin_badges*", kvGetOp(natsx.BucketBadges)),
			deny("write a bucket", "$KV.adjoin_config.test.viewer", kvPutOp(natsx.BucketConfig)),
			deny("purge stream", "$JS.API.STREAM.PURGE.DEADLETTER", purgeStreamOp(natsx.StreamDeadLetter)),
			deny("delete stream", "$JS.API.STREAM.DELETE.INCIDENTS", deleteStreamOp(natsx.StreamIncidents)),
			deny("get a message directly", "$JS.API.STREAM.MSG.GET.ALERTS", getMsgOp(natsx.StreamAlerts)),
			deny("all replies", "_INBOX.>", subscribeOp("_INBOX.>")),
			deny("sniff alerts", "alerts.>", subscribeOp("alerts.>")),
		}},
		{"admin", []natsCheck{
			allow("update stream", updateStreamOp(natsx.StreamDeadLetter)),
			allow("purge stream", purgeStreamOp(natsx.StreamDeadLetter)),
			allow("publish anything", publishOp("events.dc.security.4625")),
			allow("read any durable", otherDurableOp(natsx.StreamDCEvents, "dcingest-detect")),
			allow("create and delete a stream", func(ctx context.Context, u *natsUser) error {
				if err := createStreamOp("SCRATCH", "scratch.>")(ctx, u); err != nil {
					return err
				}
				return deleteStreamOp("SCRATCH")(ctx, u)
			}),
		}},
	}
}

// TestNATSPermissions starts NATS from the shipped configuration (deploy/nats: TLS with client
// certificates, the users of auth.conf) with secrets made by `adjoin secrets`, provisions as
// admin with `adjoin provision`, then runs every operation of each service as its user: each
// must work, every forbidden one must be refused by the server, and nothing else may be.
func TestNATSPermissions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS server with TLS and bcrypt users")
	}
	srv := startSecureNATS(t)
	srv.provision(t)
	for _, m := range natsMatrix() {
		t.Run(m.user, func(t *testing.T) {
			u := srv.connect(t, m.user)
			var want []string
			for _, c := range m.checks {
				if c.denied == "" {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					if err := c.op(ctx, u); err != nil {
						t.Errorf("%s: %s: %v", m.user, c.name, err)
					}
					cancel()
					continue
				}
				want = append(want, c.denied)
				if !u.runDenied(c.denied, c.op) {
					t.Errorf("%s: %s: no permissions violation on %s", m.user, c.name, c.denied)
				}
			}
			// Stopped watchers delete their consumers asynchronously: let that be refused too,
			// if it were.
			if err := u.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			for _, v := range violations(u.logs) {
				if !slices.ContainsFunc(want, func(subject string) bool { return matchesViolation(v, subject) }) {
					t.Errorf("%s: unexpected refusal: %s", m.user, v)
				}
			}
		})
	}
}

// matchesViolation reports whether a lower-cased violation names subject (see natsCheck).
func matchesViolation(violation, subject string) bool {
	if prefix, ok := strings.CutSuffix(subject, "*"); ok {
		return strings.Contains(violation, strings.ToLower(`"`+prefix))
	}
	return strings.Contains(violation, strings.ToLower(`"`+subject+`"`))
}
