package ports_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
	"github.com/adjoin/adjoin/services/correlator/internal/ports"
)

const fileS1 = "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"

// s1Events picks events of the Covenant DCSync recording (shared/data README, S1).
type s1Events struct {
	machine4624 *adjoinv1.Event   // 4624 WORKSTATION5$ from 172.18.39.5 on MORDORDC, 06:10:09.894
	user4624    *adjoinv1.Event   // 4624 pgustavo from 172.18.39.5 on MORDORDC, 06:10:03.795
	user4769    *adjoinv1.Event   // 4769 pgustavo@THESHIRE.LOCAL from ::ffff:172.18.39.5, 06:10:03.794
	ws6Machine  *adjoinv1.Event   // 4624 WORKSTATION6$ from 172.18.39.6 on MORDORDC
	dcsync4662  *adjoinv1.Event   // a 4662 of pgustavo: not a logon subject
	ws5Sysmon3  []*adjoinv1.Event // WORKSTATION5's own connections from 172.18.39.5
}

func loadS1(t *testing.T) s1Events {
	t.Helper()
	var s s1Events
	for _, ev := range sample.Events(t, fileS1) {
		f := ev.GetFields()
		switch {
		case ev.GetChannel() == "Security" && ev.GetEventId() == 4624 && f["TargetUserName"] == "WORKSTATION5$":
			s.machine4624 = ev
		case ev.GetChannel() == "Security" && ev.GetEventId() == 4624 && f["TargetUserName"] == "WORKSTATION6$":
			s.ws6Machine = ev
		case ev.GetChannel() == "Security" && ev.GetEventId() == 4624 && f["TargetUserName"] == "pgustavo":
			s.user4624 = ev
		case ev.GetChannel() == "Security" && ev.GetEventId() == 4769 && strings.HasPrefix(f["TargetUserName"], "pgustavo@"):
			s.user4769 = ev
		case ev.GetChannel() == "Security" && ev.GetEventId() == 4662 && f["SubjectUserName"] == "pgustavo":
			s.dcsync4662 = ev
		case ev.GetEventId() == 3 && strings.HasPrefix(ev.GetHost(), "WORKSTATION5") && f["SourceIp"] == "172.18.39.5" && f["Initiated"] == "true":
			s.ws5Sysmon3 = append(s.ws5Sysmon3, ev)
		}
	}
	if s.machine4624 == nil || s.ws6Machine == nil || s.user4624 == nil || s.user4769 == nil || s.dcsync4662 == nil || len(s.ws5Sysmon3) == 0 {
		t.Fatalf("S1 events missing: %+v", s)
	}
	return s
}

// publishEvent publishes ev on its DC or endpoint subject, as the ingestors do.
func publishEvent(t *testing.T, s *natstest.Server, prefix string, ev *adjoinv1.Event) {
	t.Helper()
	subject := intake.EventSubject(prefix, ev)
	publish(t, s.JS, subject, entity.HashID("event", subject, ev.GetHost(), fmt.Sprint(ev.GetRecordId()), ev.GetTime().String()), ev)
}

func TestLogonSubjects(t *testing.T) {
	s1 := loadS1(t)
	tests := []struct {
		stream, prefix string
		ev             *adjoinv1.Event
		want           bool
	}{
		{natsx.StreamDCEvents, natsx.SubjectDCEvents, s1.user4624, true},
		{natsx.StreamDCEvents, natsx.SubjectDCEvents, s1.user4769, true},
		{natsx.StreamDCEvents, natsx.SubjectDCEvents, s1.dcsync4662, false},
		{natsx.StreamEndpointEvents, natsx.SubjectEndpointEvents, s1.ws5Sysmon3[0], true},
		{natsx.StreamEndpointEvents, natsx.SubjectEndpointEvents, s1.user4624, true},
	}
	for _, tt := range tests {
		subject := intake.EventSubject(tt.prefix, tt.ev)
		if got := slices.Contains(ports.LogonSubjects[tt.stream], subject); got != tt.want {
			t.Errorf("%s in LogonSubjects[%s] = %v, want %v", subject, tt.stream, got, tt.want)
		}
	}
}

// TestLogonFeed publishes S1 events on the event streams before and after the feed starts.
func TestLogonFeed(t *testing.T) {
	s1 := loadS1(t)
	ws5 := "172.18.39.5"
	tests := []struct {
		name          string
		before, after []*adjoinv1.Event
		// wantAdded is the fact count the table must hold when the channel closes.
		wantAdded int
		// atDone checks the table right when the channel closed, without waiting.
		atDone func(*domain.Logons) error
		// later must eventually hold once the after events are published.
		later func(*domain.Logons) error
	}{
		{name: "empty streams", wantAdded: 0},
		{
			name:   "DC events before start are read before the channel closes",
			before: []*adjoinv1.Event{s1.dcsync4662, s1.user4769, s1.user4624, s1.machine4624, s1.dcsync4662},
			// 4769: pgustavo by address; 4624: pgustavo on MORDORDC and by address; 4624: WORKSTATION5$.
			wantAdded: 4,
			atDone: func(l *domain.Logons) error {
				c, ok := l.HostForIP(ws5, s1.machine4624.GetTime().AsTime(), time.Second)
				if !ok || c.Host != "workstation5$" || c.Certainty != domain.CertaintyMachineLogon {
					return fmt.Errorf("HostForIP(%s) = %+v, %v; want workstation5$", ws5, c, ok)
				}
				hosts := hostNames(l.HostsOfUser("pgustavo", s1.user4624.GetTime().AsTime(), time.Hour))
				if !slices.Equal(hosts, []string{"workstation5$", "mordordc.theshire.local"}) {
					return fmt.Errorf("HostsOfUser(pgustavo) = %q", hosts)
				}
				return nil
			},
		},
		{
			name:      "both streams before start",
			before:    append([]*adjoinv1.Event{s1.machine4624}, s1.ws5Sysmon3...),
			wantAdded: 1 + len(s1.ws5Sysmon3),
			atDone: func(l *domain.Logons) error {
				c, ok := l.HostForIP(ws5, s1.user4769.GetTime().AsTime(), time.Hour)
				if !ok || c.Host != "workstation5.theshire.local" || c.Certainty != domain.CertaintyOwnAddress {
					return fmt.Errorf("HostForIP(%s) = %+v, %v; want workstation5.theshire.local by its own connections", ws5, c, ok)
				}
				return nil
			},
		},
		{
			name:      "facts published later are observed",
			before:    []*adjoinv1.Event{s1.user4769},
			after:     append([]*adjoinv1.Event{s1.ws6Machine, s1.dcsync4662}, s1.ws5Sysmon3...),
			wantAdded: 1,
			atDone: func(l *domain.Logons) error {
				if got := l.HostsOfUser("pgustavo", s1.user4769.GetTime().AsTime(), time.Hour); len(got) != 0 {
					return fmt.Errorf("pgustavo placed on %q before any address fact", hostNames(got))
				}
				return nil
			},
			later: func(l *domain.Logons) error {
				hosts := hostNames(l.HostsOfUser("pgustavo", s1.user4769.GetTime().AsTime(), time.Hour))
				if !slices.Equal(hosts, []string{"workstation5.theshire.local"}) {
					return fmt.Errorf("HostsOfUser(pgustavo) = %q", hosts)
				}
				if c, ok := l.HostForIP("::ffff:172.18.39.6", s1.ws6Machine.GetTime().AsTime(), time.Minute); !ok || c.Host != "workstation6$" {
					return fmt.Errorf("HostForIP(172.18.39.6) = %+v, %v", c, ok)
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := natstest.Start(t)
			prefixOf := func(ev *adjoinv1.Event) string {
				if ev.GetEventId() == 3 {
					return natsx.SubjectEndpointEvents
				}
				return natsx.SubjectDCEvents
			}
			for _, ev := range tt.before {
				publishEvent(t, s, prefixOf(ev), ev)
			}
			l := domain.NewLogons(24 * time.Hour)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			done, err := (&ports.LogonFeed{JS: s.JS, Logons: l, Log: zap.NewNop()}).Start(ctx)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("not caught up after 10s; %d facts read", l.Added())
			}
			if got := l.Added(); got != tt.wantAdded {
				t.Errorf("Added = %d when caught up, want %d", got, tt.wantAdded)
			}
			if tt.atDone != nil {
				if err := tt.atDone(l); err != nil {
					t.Error(err)
				}
			}
			for _, ev := range tt.after {
				publishEvent(t, s, prefixOf(ev), ev)
			}
			if tt.later != nil {
				eventually(t, 10*time.Second, func() error { return tt.later(l) })
			}
		})
	}
}

func hostNames(ls []domain.UserLogon) []string {
	var out []string
	for _, u := range ls {
		out = append(out, u.Host)
	}
	return out
}
