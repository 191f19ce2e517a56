package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/correlator/internal/domain"
)

// Recordings of /work/shared/data (see its README, "Ground truth per scenario").
const (
	fileS1       = "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json"
	fileS3       = "otrf/host/empire_shell_rubeus_asktgt_ptt_2020-09-21223848.sec-sys-sysmon.json"
	fileKerbrute = "evtx-to-mitre-attack/ndjson/ID4768-4771-Kerberos user enumeration (Kerbrute).json"
)

const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

// observed returns a table that observed every event of a recording.
func observed(t *testing.T, rel string) *domain.Logons {
	t.Helper()
	l := domain.NewLogons(0)
	for _, ev := range sample.Events(t, rel) {
		l.Observe(ev)
	}
	return l
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func event(channel string, id int32, host string, at time.Time, fields map[string]string) *adjoinv1.Event {
	return &adjoinv1.Event{Channel: channel, EventId: id, Host: host, Time: timestamppb.New(at), Fields: fields}
}

// logon4624 is a Security 4624 of account on host from ip.
func logon4624(host, domainName, account, sid, ip string, at time.Time) *adjoinv1.Event {
	return event("Security", 4624, host, at, map[string]string{
		"TargetUserName": account, "TargetDomainName": domainName, "TargetUserSid": sid,
		"LogonType": "3", "IpAddress": ip,
	})
}

// outbound is a Sysmon 3 connection that host initiated from ip.
func outbound(host, ip, to string, at time.Time) *adjoinv1.Event {
	return event(sysmonChannel, 3, host, at, map[string]string{
		"Initiated": "true", "Protocol": "tcp", "SourceIp": ip, "DestinationIp": to,
	})
}

// TestLogonsHostForIPOnS1 checks which host each address of the Covenant DCSync recording
// resolves to. The recording holds, for 172.18.39.5, Sysmon 3 claims of WORKSTATION5 (its
// GruntHTTP.exe and lsass.exe connections, 0.9) and the 4624 of WORKSTATION5$ on MORDORDC at
// 06:10:09.894 (0.8). It also holds MORDORDC's Sysmon 3 records of connections from that address
// (inbound TCP, where the DC's own end is the destination, and inbound UDP, where Sysmon writes
// the DC's end as the source): none of them may make 172.18.39.5 the DC's.
func TestLogonsHostForIPOnS1(t *testing.T) {
	l := observed(t, fileS1)
	const (
		ws5Sysmon = "Sysmon 3 on WORKSTATION5.theshire.local with local address 172.18.39.5"
		ws6Sysmon = "Sysmon 3 on WORKSTATION6.theshire.local with local address 172.18.39.6"
	)
	tests := []struct {
		name   string
		ip     string
		at     string
		window time.Duration
		want   *domain.HostClaim // nil: no claim
	}{
		{
			name: "workstation5 by its own connections", ip: "172.18.39.5", at: "2020-08-05T06:10:03Z", window: 24 * time.Hour,
			want: &domain.HostClaim{Host: "workstation5.theshire.local", Time: utc("2020-08-05T06:10:01.172Z"), Certainty: domain.CertaintyOwnAddress, Evidence: ws5Sysmon},
		},
		{
			name: "IPv4-mapped IPv6 form", ip: "::ffff:172.18.39.5", at: "2020-08-05T06:10:03Z", window: 24 * time.Hour,
			want: &domain.HostClaim{Host: "workstation5.theshire.local", Time: utc("2020-08-05T06:10:01.172Z"), Certainty: domain.CertaintyOwnAddress, Evidence: ws5Sysmon},
		},
		{
			name: "only the machine logon within a narrow window", ip: "172.18.39.5", at: "2020-08-05T06:10:09.894Z", window: time.Second,
			want: &domain.HostClaim{Host: "workstation5$", Time: utc("2020-08-05T06:10:09.894Z"), Certainty: domain.CertaintyMachineLogon,
				Evidence: "4624 WORKSTATION5$ from 172.18.39.5 on MORDORDC.theshire.local"},
		},
		{
			name: "workstation6 beside the DC's inbound records", ip: "172.18.39.6", at: "2020-08-05T06:10:07Z", window: time.Hour,
			want: &domain.HostClaim{Host: "workstation6.theshire.local", Time: utc("2020-08-05T06:10:07.214Z"), Certainty: domain.CertaintyOwnAddress, Evidence: ws6Sysmon},
		},
		{
			name: "the DC's address is the DC's", ip: "172.18.38.5", at: "2020-08-05T06:10:03Z", window: time.Hour,
			want: &domain.HostClaim{Host: "mordordc.theshire.local", Time: utc("2020-08-05T06:10:01.288Z"), Certainty: domain.CertaintyOwnAddress,
				Evidence: "Sysmon 3 on MORDORDC.theshire.local with local address 172.18.38.5"},
		},
		{
			name: "WEC by its machine logon", ip: "172.18.38.6", at: "2020-08-05T06:10:00Z", window: time.Hour,
			want: &domain.HostClaim{Host: "wec$", Time: utc("2020-08-05T06:09:51.733Z"), Certainty: domain.CertaintyMachineLogon,
				Evidence: "4624 WEC$ from 172.18.38.6 on MORDORDC.theshire.local"},
		},
		{name: "outside the window", ip: "172.18.39.5", at: "2020-08-05T08:10:03Z", window: time.Hour},
		{name: "a day later with a day's window misses the Sysmon claims but not the logon", ip: "172.18.39.5", at: "2020-08-06T06:10:08.5Z", window: 24 * time.Hour,
			want: &domain.HostClaim{Host: "workstation5$", Time: utc("2020-08-05T06:10:09.894Z"), Certainty: domain.CertaintyMachineLogon,
				Evidence: "4624 WORKSTATION5$ from 172.18.39.5 on MORDORDC.theshire.local"}},
		// MORDORDC$ logs on from ::1 and fe80::4d30:7d6f:8db9:ce3c in this recording, and its
		// Sysmon 3 records show 0:0:0:0:0:0:0:1 and fe80:0:0:0:3816:b2ee:1b9b:324b.
		{name: "IPv6 loopback", ip: "::1", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "IPv6 loopback, long form", ip: "0:0:0:0:0:0:0:1", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "IPv4 loopback", ip: "127.0.0.1", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "link-local of a machine logon", ip: "fe80::4d30:7d6f:8db9:ce3c", at: "2020-08-05T06:10:22Z", window: 24 * time.Hour},
		{name: "link-local of a Sysmon record", ip: "fe80:0:0:0:3816:b2ee:1b9b:324b", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "dash", ip: "-", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "empty", ip: "", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
		{name: "not an address", ip: "WORKSTATION5", at: "2020-08-05T06:10:07Z", window: 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := l.HostForIP(tt.ip, utc(tt.at), tt.window)
			switch {
			case tt.want == nil && ok:
				t.Fatalf("HostForIP(%q) = %+v, want no claim", tt.ip, got)
			case tt.want == nil:
				return
			case !ok:
				t.Fatalf("HostForIP(%q) found nothing, want %+v", tt.ip, *tt.want)
			}
			if got.Host != tt.want.Host || !got.Time.Equal(tt.want.Time) || got.Certainty != tt.want.Certainty || got.Evidence != tt.want.Evidence {
				t.Errorf("HostForIP(%q) =\n  %+v\nwant\n  %+v", tt.ip, got, *tt.want)
			}
		})
	}
}

// TestLogonsObserve checks which single events carry facts, on minimal hand-written events.
func TestLogonsObserve(t *testing.T) {
	at := utc("2020-08-05T06:10:02Z")
	tests := []struct {
		name string
		ev   *adjoinv1.Event
		want bool
		// wantIP, when set, must resolve to wantHost afterwards.
		wantIP, wantHost string
	}{
		{"user logon", logon4624("MORDORDC.theshire.local", "THESHIRE", "pgustavo", "S-1-5-21-1-2-3-1104", "172.18.39.5", at), true, "", ""},
		{"machine logon places the address", logon4624("MORDORDC.theshire.local", "THESHIRE", "WORKSTATION5$", "", "::ffff:172.18.39.5", at), true, "172.18.39.5", "workstation5$"},
		{"machine logon without address", logon4624("MORDORDC.theshire.local", "THESHIRE", "WORKSTATION5$", "", "-", at), false, "", ""},
		{"machine logon from loopback", logon4624("MORDORDC.theshire.local", "THESHIRE", "MORDORDC$", "S-1-5-18", "127.0.0.1", at), false, "", ""},
		{"SYSTEM", logon4624("WORKSTATION5", "NT AUTHORITY", "SYSTEM", "S-1-5-18", "-", at), false, "", ""},
		{"NT AUTHORITY", logon4624("WORKSTATION5", "NT AUTHORITY", "ANONYMOUS LOGON", "S-1-5-7", "-", at), false, "", ""},
		{"no user", logon4624("WORKSTATION5", "THESHIRE", "-", "", "172.18.39.5", at), false, "", ""},
		{"TGT of a machine", event("Security", 4768, "MORDORDC", at, map[string]string{"TargetUserName": "WORKSTATION6$", "Status": "0x0", "IpAddress": "::ffff:172.18.39.6"}), true, "172.18.39.6", "workstation6$"},
		{"failed TGT of a machine", event("Security", 4768, "MORDORDC", at, map[string]string{"TargetUserName": "WORKSTATION6$", "Status": "0x18", "IpAddress": "::ffff:172.18.39.9"}), false, "", ""},
		{"Kerberos without address", event("Security", 4769, "MORDORDC", at, map[string]string{"TargetUserName": "pgustavo@THESHIRE.LOCAL", "Status": "0x0", "IpAddress": "-"}), false, "", ""},
		{"outbound connection", outbound("WORKSTATION5.theshire.local", "172.18.39.5", "172.18.38.5", at), true, "172.18.39.5", "workstation5.theshire.local"},
		{"inbound TCP: the destination is the host's", event(sysmonChannel, 3, "WORKSTATION6.theshire.local", at, map[string]string{
			"Initiated": "false", "Protocol": "tcp", "SourceIp": "172.18.39.5", "DestinationIp": "172.18.39.6"}), true, "172.18.39.6", "workstation6.theshire.local"},
		// A DNS server's reply as MORDORDC's Sysmon writes it in S1: the local end is the source.
		{"inbound UDP says nothing reliable", event(sysmonChannel, 3, "MORDORDC.theshire.local", at, map[string]string{
			"Initiated": "false", "Protocol": "udp", "SourceIp": "172.18.38.5", "SourcePort": "53", "DestinationIp": "172.18.39.5"}), false, "", ""},
		{"loopback connection", outbound("MORDORDC", "127.0.0.1", "127.0.0.1", at), false, "", ""},
		{"link-local connection", outbound("MORDORDC", "fe80::3816:b2ee:1b9b:324b", "fe80::1", at), false, "", ""},
		{"connection without host", outbound("", "172.18.39.5", "172.18.38.5", at), false, "", ""},
		{"other event", event("Security", 4662, "MORDORDC", at, map[string]string{"SubjectUserName": "pgustavo"}), false, "", ""},
		{"4624 on another channel", event("System", 4624, "MORDORDC", at, map[string]string{"TargetUserName": "pgustavo", "IpAddress": "172.18.39.5"}), false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := domain.NewLogons(time.Hour)
			if got := l.Observe(tt.ev); got != tt.want {
				t.Errorf("Observe = %v, want %v", got, tt.want)
			}
			if !tt.want && l.Added() != 0 {
				t.Errorf("Added = %d after an event without facts", l.Added())
			}
			if tt.wantIP != "" {
				c, ok := l.HostForIP(tt.wantIP, at, time.Minute)
				if !ok || c.Host != tt.wantHost {
					t.Errorf("HostForIP(%s) = %+v, %v; want %s", tt.wantIP, c, ok, tt.wantHost)
				}
			}
			for _, ip := range []string{"172.18.38.5", "172.18.39.5", "172.18.39.9"} {
				if ip == tt.wantIP {
					continue
				}
				if c, ok := l.HostForIP(ip, at, time.Minute); ok {
					t.Errorf("HostForIP(%s) = %+v, want nothing", ip, c)
				}
			}
		})
	}
}

func hostsOf(ls []domain.UserLogon) []string {
	var out []string
	for _, u := range ls {
		out = append(out, u.Host)
	}
	return out
}

func samsOf(ls []domain.UserLogon) []string {
	var out []string
	for _, u := range ls {
		out = append(out, u.SAM)
	}
	return out
}

// TestLogonsHostsOfUser checks where users logged on, in S1 (pgustavo's 4624 and 4769 on
// MORDORDC from 172.18.39.5) and S3 (Rubeus' 4768 for pgustavo from ::ffff:172.18.39.6).
func TestLogonsHostsOfUser(t *testing.T) {
	s1, s3 := observed(t, fileS1), observed(t, fileS3)
	tests := []struct {
		name      string
		l         *domain.Logons
		sam       string
		at        string
		window    time.Duration
		wantHosts []string
		// wantEvidence: host → substrings its evidence must contain.
		wantEvidence map[string][]string
	}{
		{
			name: "S1 pgustavo: WORKSTATION5 by address, MORDORDC directly", l: s1, sam: "pgustavo",
			at: "2020-08-05T06:10:02Z", window: time.Hour,
			wantHosts: []string{"workstation5.theshire.local", "mordordc.theshire.local"},
			wantEvidence: map[string][]string{
				"workstation5.theshire.local": {"pgustavo@THESHIRE.LOCAL Kerberos 4769 from 172.18.39.5", "Sysmon 3 on WORKSTATION5.theshire.local with local address 172.18.39.5"},
				"mordordc.theshire.local":     {"4624 type 3 pgustavo on MORDORDC.theshire.local"},
			},
		},
		{
			name: "S1 names fold", l: s1, sam: " PGustavo ", at: "2020-08-05T06:10:02Z", window: time.Hour,
			wantHosts: []string{"workstation5.theshire.local", "mordordc.theshire.local"},
		},
		{name: "S1 outside the window", l: s1, sam: "pgustavo", at: "2020-08-05T07:10:05Z", window: time.Hour},
		{name: "S1 unknown user", l: s1, sam: "frodo", at: "2020-08-05T06:10:02Z", window: time.Hour},
		{name: "S1 machine accounts are not users", l: s1, sam: "workstation5$", at: "2020-08-05T06:10:02Z", window: time.Hour},
		{
			name: "S3 pgustavo's TGT from WORKSTATION6", l: s3, sam: "pgustavo", at: "2020-09-22T02:39:13Z", window: time.Hour,
			wantHosts: []string{"workstation6.theshire.local"},
			wantEvidence: map[string][]string{
				"workstation6.theshire.local": {"pgustavo Kerberos 4768 from 172.18.39.6", "Sysmon 3 on WORKSTATION6.theshire.local with local address 172.18.39.6"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.l.HostsOfUser(tt.sam, utc(tt.at), tt.window)
			if !slices.Equal(hostsOf(got), tt.wantHosts) {
				t.Fatalf("hosts = %q, want %q (logons %+v)", hostsOf(got), tt.wantHosts, got)
			}
			for i, u := range got {
				if i > 0 && u.Time.Before(got[i-1].Time) {
					t.Errorf("logons not oldest first: %v before %v", got[i-1].Time, u.Time)
				}
				for _, want := range tt.wantEvidence[u.Host] {
					if !strings.Contains(u.Evidence, want) {
						t.Errorf("evidence of %s = %q, want it to contain %q", u.Host, u.Evidence, want)
					}
				}
			}
		})
	}
}

func TestLogonsUsersOnHost(t *testing.T) {
	s1, s3 := observed(t, fileS1), observed(t, fileS3)
	at := "2020-08-05T06:10:02Z"
	tests := []struct {
		name     string
		l        *domain.Logons
		host     string
		at       string
		window   time.Duration
		wantSAMs []string
		wantHost string // the host the returned logons name
	}{
		{"S1 WORKSTATION5 by FQDN", s1, "WORKSTATION5.theshire.local", at, time.Hour, []string{"pgustavo"}, "workstation5.theshire.local"},
		{"S1 WORKSTATION5 by NetBIOS name", s1, "workstation5", at, time.Hour, []string{"pgustavo"}, "workstation5.theshire.local"},
		{"S1 WORKSTATION5 by machine account", s1, "WORKSTATION5$", at, time.Hour, []string{"pgustavo"}, "workstation5.theshire.local"},
		{"S1 logon to the DC itself", s1, "MORDORDC", at, time.Hour, []string{"pgustavo"}, "mordordc.theshire.local"},
		{"S1 nobody on WORKSTATION6", s1, "WORKSTATION6.theshire.local", at, time.Hour, nil, ""},
		{"S1 outside the window", s1, "WORKSTATION5.theshire.local", "2020-08-04T06:10:02Z", time.Hour, nil, ""},
		{"S3 pgustavo on WORKSTATION6", s3, "WORKSTATION6.theshire.local", "2020-09-22T02:39:13Z", time.Hour, []string{"pgustavo"}, "workstation6.theshire.local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.l.UsersOnHost(tt.host, utc(tt.at), tt.window)
			if !slices.Equal(samsOf(got), tt.wantSAMs) {
				t.Fatalf("users = %q, want %q (logons %+v)", samsOf(got), tt.wantSAMs, got)
			}
			for _, u := range got {
				if u.Host != tt.wantHost {
					t.Errorf("logon of %s names host %q, want %q", u.SAM, u.Host, tt.wantHost)
				}
			}
		})
	}
}

// TestLogonsKerberosFailures feeds a Kerbrute user enumeration: 37 of its 42 4768 fail
// (0x6/0x12/0x18); only the 5 successes are logons.
func TestLogonsKerberosFailures(t *testing.T) {
	evs := sample.Events(t, fileKerbrute)
	l := domain.NewLogons(0)
	var succeeded, failed []string
	for _, ev := range evs {
		status := ev.GetFields()["Status"]
		ok := l.Observe(ev)
		switch {
		case ev.GetEventId() != 4768:
			if ok {
				t.Errorf("event %d for %s observed", ev.GetEventId(), ev.GetFields()["TargetUserName"])
			}
		case status == "0x0" || status == "0x00000000":
			succeeded = append(succeeded, strings.ToLower(ev.GetFields()["TargetUserName"]))
			if !ok {
				t.Errorf("successful 4768 for %s not observed", ev.GetFields()["TargetUserName"])
			}
		default:
			failed = append(failed, strings.ToLower(ev.GetFields()["TargetUserName"]))
			if ok {
				t.Errorf("failed 4768 (%s) for %s observed", status, ev.GetFields()["TargetUserName"])
			}
		}
	}
	slices.Sort(succeeded)
	if want := []string{"admin-test", "admmig", "dsrm", "hack1", "hacker2"}; !slices.Equal(succeeded, want) {
		t.Errorf("successful 4768 for %q, want %q", succeeded, want)
	}
	if len(failed) == 0 {
		t.Fatal("the recording has no failed 4768")
	}
	if got := l.Added(); got != len(succeeded) {
		t.Errorf("Added = %d, want %d", got, len(succeeded))
	}
	// The failed TGT request of SRVFS02$ is no claim on the address.
	at := utc("2021-12-03T12:06:05Z")
	if c, ok := l.HostForIP("10.23.123.11", at, time.Hour); ok {
		t.Errorf("HostForIP(10.23.123.11) = %+v from failed Kerberos", c)
	}
	// Place the address on the enumerating host: successes are logons there, failures are not.
	l.Observe(outbound("KALI.offsec.lan", "10.23.123.11", "10.23.123.1", at))
	for _, u := range succeeded {
		if got := hostsOf(l.HostsOfUser(u, at, time.Hour)); !slices.Equal(got, []string{"kali.offsec.lan"}) {
			t.Errorf("HostsOfUser(%s) = %q, want [kali.offsec.lan]", u, got)
		}
	}
	for _, u := range failed {
		if got := l.HostsOfUser(u, at, time.Hour); len(got) != 0 {
			t.Errorf("HostsOfUser(%s) = %+v after a failed TGT request", u, got)
		}
	}
	if got := samsOf(l.UsersOnHost("KALI", at, time.Hour)); len(got) != len(succeeded) {
		t.Errorf("UsersOnHost(KALI) = %q, want the %d successes", got, len(succeeded))
	}
}

// TestLogonsAdded checks that the fact count moves on new facts only.
func TestLogonsAdded(t *testing.T) {
	at := utc("2020-08-05T06:10:02Z")
	user := logon4624("MORDORDC.theshire.local", "THESHIRE", "pgustavo", "S-1-5-21-1-2-3-1104", "172.18.39.5", at)
	l := domain.NewLogons(time.Hour)
	steps := []struct {
		name string
		ev   *adjoinv1.Event
		want int // Added after the step
	}{
		{"user logon from an address: on the host and by address", user, 2},
		{"the same logon again", user, 2},
		{"the same logon, a copy", logon4624("MORDORDC.theshire.local", "THESHIRE", "pgustavo", "S-1-5-21-1-2-3-1104", "172.18.39.5", at), 2},
		{"the same user a second later", logon4624("MORDORDC.theshire.local", "THESHIRE", "pgustavo", "S-1-5-21-1-2-3-1104", "172.18.39.5", at.Add(time.Second)), 4},
		{"machine logon", logon4624("MORDORDC.theshire.local", "THESHIRE", "WORKSTATION5$", "", "172.18.39.5", at), 5},
		{"machine logon again", logon4624("MORDORDC.theshire.local", "THESHIRE", "WORKSTATION5$", "", "172.18.39.5", at), 5},
		{"another host claims the address at the same time", outbound("WORKSTATION5.theshire.local", "172.18.39.5", "172.18.38.5", at), 6},
		{"an event without facts", event("Security", 4662, "MORDORDC", at, nil), 6},
	}
	for _, st := range steps {
		l.Observe(st.ev)
		if got := l.Added(); got != st.want {
			t.Errorf("%s: Added = %d, want %d", st.name, got, st.want)
		}
	}
}

// TestLogonsHostForIPOrderIndependent checks that the best claim does not depend on the order
// the facts arrived in: every correlator instance reads them with its own consumers, so two
// instances may see them in different orders and must still place an address the same way.
func TestLogonsHostForIPOrderIndependent(t *testing.T) {
	at := utc("2020-08-05T06:10:02Z")
	a := outbound("WORKSTATION5.theshire.local", "172.18.39.5", "172.18.38.5", at.Add(-time.Second))
	b := outbound("WORKSTATION9.theshire.local", "172.18.39.5", "172.18.38.5", at.Add(time.Second))
	var hosts []string
	for _, order := range [][]*adjoinv1.Event{{a, b}, {b, a}} {
		l := domain.NewLogons(0)
		for _, ev := range order {
			l.Observe(ev)
		}
		c, ok := l.HostForIP("172.18.39.5", at, time.Minute)
		if !ok {
			t.Fatal("no claim")
		}
		hosts = append(hosts, c.Host)
	}
	if hosts[0] != hosts[1] {
		t.Errorf("HostForIP depends on arrival order: %q then %q", hosts[0], hosts[1])
	}
}

// TestLogonsRetention checks that facts older than Retention before the newest are forgotten.
// The prune runs every 1024 additions, so each case adds a few thousand synthetic facts.
func TestLogonsRetention(t *testing.T) {
	const retention = time.Hour
	t0 := utc("2020-08-05T00:00:00Z")
	machine := func(i int, at time.Time) *adjoinv1.Event {
		return logon4624("MORDORDC", "THESHIRE", fmt.Sprintf("HOST%05d$", i), "", fmt.Sprintf("10.%d.%d.%d", 1+i/65536, i/256%256, i%256), at)
	}
	tests := []struct {
		name string
		// fact returns the i-th fact after the old one (i from 0).
		fact func(i int) *adjoinv1.Event
	}{
		{"facts in time order", func(i int) *adjoinv1.Event {
			return machine(i, t0.Add(2*retention+time.Duration(i)*time.Second))
		}},
		// Two streams read side by side, one behind the other: the newest fact lands on odd
		// additions, so every 1024th addition is one that does not advance the newest time.
		{"two interleaved streams, the prune falling on the slower one", func(i int) *adjoinv1.Event {
			if i%2 == 0 {
				return machine(i, t0.Add(3*retention+time.Duration(i)*time.Second))
			}
			return machine(i, t0.Add(3*retention-retention/2+time.Duration(i)*time.Second))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := domain.NewLogons(retention)
			l.Observe(machine(99999, t0))
			l.Observe(logon4624("MORDORDC", "THESHIRE", "pgustavo", "", "-", t0))
			const bound = 4096
			i := 0
			for ; i < bound; i++ {
				l.Observe(tt.fact(i))
				_, hostKnown := l.HostForIP("10.2.134.159", t0, time.Minute)
				userKnown := len(l.UsersOnHost("MORDORDC", t0, time.Minute)) > 0
				if !hostKnown && !userKnown {
					break
				}
			}
			if i == bound {
				t.Fatalf("facts from %s still known after %d newer facts", t0, bound)
			}
			// Recent facts stay.
			last := tt.fact(i)
			if c, ok := l.HostForIP(last.GetFields()["IpAddress"], last.GetTime().AsTime(), time.Minute); !ok {
				t.Errorf("recent fact forgotten: %+v", c)
			}
			if got := l.Added(); got != i+3 {
				t.Errorf("Added = %d, want %d: it counts facts recorded, not facts kept", got, i+3)
			}
		})
	}
	t.Run("no retention keeps everything", func(t *testing.T) {
		l := domain.NewLogons(0)
		l.Observe(machine(99999, t0))
		for i := range 2048 {
			l.Observe(machine(i, t0.Add(48*time.Hour+time.Duration(i)*time.Second)))
		}
		if _, ok := l.HostForIP("10.2.134.159", t0, time.Minute); !ok {
			t.Error("fact forgotten without retention")
		}
	})
}

// TestLogonsConcurrent observes S1 from several goroutines while others query. Run with -race.
func TestLogonsConcurrent(t *testing.T) {
	evs := sample.Events(t, fileS1)
	want := observed(t, fileS1)
	at := utc("2020-08-05T06:10:03Z")
	l := domain.NewLogons(24 * time.Hour)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range evs {
				l.Observe(evs[(i+w*200)%len(evs)])
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				l.HostForIP("172.18.39.5", at, time.Hour)
				l.HostsOfUser("pgustavo", at, time.Hour)
				l.UsersOnHost("WORKSTATION5", at, time.Hour)
				l.Added()
			}
		}()
	}
	wg.Wait()
	if got, want := l.Added(), want.Added(); got != want {
		t.Errorf("Added = %d after concurrent duplicates, want %d", got, want)
	}
	got, _ := l.HostForIP("172.18.39.5", at, time.Hour)
	exp, _ := want.HostForIP("172.18.39.5", at, time.Hour)
	if got != exp {
		t.Errorf("HostForIP = %+v, want %+v", got, exp)
	}
	if g, w := hostsOf(l.HostsOfUser("pgustavo", at, time.Hour)), hostsOf(want.HostsOfUser("pgustavo", at, time.Hour)); !slices.Equal(g, w) {
		t.Errorf("HostsOfUser = %q, want %q", g, w)
	}
}

// TestLogonsBounds: a fact dated far after the clock is ignored (it used to become the newest
// and make every other fact past retention), and past MaxFacts the oldest go first, or any when
// they all share one time.
func TestLogonsBounds(t *testing.T) {
	t0 := utc("2020-08-05T00:00:00Z")
	machine := func(i int, at time.Time) *adjoinv1.Event {
		return logon4624("MORDORDC", "THESHIRE", fmt.Sprintf("HOST%05d$", i), "", fmt.Sprintf("10.%d.%d.%d", 1+i/65536, i/256%256, i%256), at)
	}
	t.Run("a fact from the future", func(t *testing.T) {
		l := domain.NewLogons(time.Hour)
		l.Observe(machine(99999, t0))
		if l.Observe(machine(1, utc("9999-12-31T23:59:59Z"))) {
			t.Fatal("a fact dated 9999 was taken")
		}
		for i := range 2048 {
			l.Observe(machine(i+2, t0.Add(time.Duration(i)*time.Second)))
		}
		if _, ok := l.HostForIP("10.2.134.159", t0, time.Minute); !ok {
			t.Error("a fact within retention of every fact taken was forgotten")
		}
	})
	tests := []struct {
		name string
		at   func(i int) time.Time
	}{
		{"facts in time order", func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }},
		{"facts of one time", func(int) time.Time { return t0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := domain.NewLogons(0)
			l.MaxFacts = 1000
			for i := range 5000 {
				l.Observe(machine(i, tt.at(i)))
				if got := l.Facts(); got > l.MaxFacts {
					t.Fatalf("after %d facts %d kept, bound %d", i+1, got, l.MaxFacts)
				}
			}
			if got := l.Facts(); got < 800 {
				t.Errorf("%d facts kept, want most of the bound", got)
			}
			if got := l.Added(); got != 5000 {
				t.Errorf("Added = %d, want 5000", got)
			}
		})
	}
	t.Run("newest stay", func(t *testing.T) {
		l := domain.NewLogons(0)
		l.MaxFacts = 1000
		for i := range 5000 {
			l.Observe(machine(i, t0.Add(time.Duration(i)*time.Second)))
		}
		last := machine(4999, t0)
		if _, ok := l.HostForIP(last.GetFields()["IpAddress"], t0.Add(4999*time.Second), time.Minute); !ok {
			t.Error("the newest fact was forgotten")
		}
		if _, ok := l.HostForIP(machine(0, t0).GetFields()["IpAddress"], t0, time.Minute); ok {
			t.Error("the oldest fact is still kept past the bound")
		}
	})
}
