package dcingest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit/sambatest"
	"github.com/adjoin/adjoin/services/dcingest"
)

// TestSambaSensorLoopback runs the service with --capture lo beside the lab Samba AD DC (which
// listens on loopback) and makes, from another loopback address (127.0.0.2, through relays as
// sambatest.Via makes them; not the non-loopback address TestSambaEndToEnd's clients use, so
// that its password-spray, which reads the DC's whole log, does not join these failures to its
// good logons), real attacks against it: ten kinit with a wrong password for one account, one
// wrong kinit for each of five accounts, and `samba-tool drs clone-dc-database`, which pulls the
// whole directory with DRSGetNCChanges as a DCSync does. The network detectors raise, from the
// wire alone, the brute force on the account, the spray from the address and the replication
// from an address that is not the DC's.
func TestSambaSensorLoopback(t *testing.T) {
	dc := sambatest.Load(t)
	const other = "127.0.0.2"
	stamp := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 10)
	brute := "wire_brute_" + stamp
	var spray []string
	for i := range 5 {
		spray = append(spray, fmt.Sprintf("wire_spray%d_%s", i, stamp))
	}
	for _, u := range append([]string{brute}, spray...) {
		dc.Tool(t, "user", "create", u, "Wire-"+stamp+"-Pw1!")
		t.Cleanup(func() { dc.Tool(t, "user", "delete", u) })
	}

	s := natstest.Start(t)
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.ShutdownGrace = s.ClientURL(), time.Second
	cfg.DCAddresses = "127.0.0.1,::1"
	cfg.Sensor = dcingest.SensorConfig{Capture: "lo", Name: dc.FQDN}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- dcingest.Run(ctx, cfg, zap.NewNop()) }()
	defer func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waitFor(t, 30*time.Second, "readyz", func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	via := dc.Via(t, other)
	for range 10 {
		if via.Kinit(brute, "wrong-password") == nil {
			t.Fatal("kinit with a wrong password succeeded")
		}
	}
	for _, u := range spray {
		if via.Kinit(u, "Spring2026!") == nil {
			t.Fatal("kinit with a wrong password succeeded")
		}
	}
	// DRSUAPI through relays on the other address at the DC's own ports: the endpoint mapper
	// names the DC's port, which the client dials on the relays' host.
	udpRelay(t, net.JoinHostPort(other, "389"), other, "127.0.0.1:389") // CLDAP, which finds the DC's site
	for _, port := range append([]int{135, 389}, rpcPorts(t)...) {
		p := strconv.Itoa(port)
		sambatest.RelayAt(t, net.JoinHostPort(other, p), other, net.JoinHostPort("127.0.0.1", p))
	}
	if out, err := dc.Command("samba-tool", "drs", "clone-dc-database", dc.Realm, "--server="+other,
		"--targetdir="+filepath.Join(t.TempDir(), "clone"), "-U", dc.Admin+"%"+dc.AdminPassword); err != nil {
		t.Fatalf("clone-dc-database: %v\n%s", err, out)
	}

	want := map[string]func([]*adjoinv1.Alert) bool{
		"brute force": func(a []*adjoinv1.Alert) bool {
			return hasAlert(a, "wire-kerberos-preauth-failures", "T1110.001", brute, "")
		},
		"spray": func(a []*adjoinv1.Alert) bool {
			return hasAlert(a, "wire-kerberos-preauth-failures", "T1110.003", "", other)
		},
		"replication": func(a []*adjoinv1.Alert) bool {
			return hasAlert(a, "zeek-drsuapi-replication", "T1003.006", "", other)
		},
	}
	var alerts []*adjoinv1.Alert
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		alerts, missing = sensorAlerts(t, s), nil
		for name, found := range want {
			if !found(alerts) {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			break
		}
		slices.Sort(missing)
		if time.Now().After(deadline) {
			for _, a := range alerts {
				t.Logf("seen: %s %v: %s", a.GetDetector(), a.GetMitreTechniques(), a.GetDescription())
			}
			t.Fatalf("no %v alert from the sensor within 60s; its counters:\n%s", missing, sensorMetrics(t, ln.Addr().String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
	last := map[string]*adjoinv1.Alert{} // the last version of each alert
	for _, a := range alerts {
		last[a.GetId()] = a
	}
	for _, a := range last {
		t.Logf("%s %v: %s", a.GetDetector(), a.GetMitreTechniques(), a.GetDescription())
	}
}

// rpcPorts are the dynamic RPC ports the DC listens on (49152 and up), found by connecting.
func rpcPorts(t *testing.T) []int {
	t.Helper()
	var out []int
	for p := 49152; p < 49172; p++ {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second)
		if err == nil {
			c.Close()
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("the DC listens on no dynamic RPC port")
	}
	return out
}

// udpRelay answers each datagram to listen with the reply of target, asked from the address
// from; it stops with the test.
func udpRelay(t *testing.T, listen, from, target string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, client, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			up, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(target)))
			if err != nil {
				continue
			}
			up.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := up.Write(buf[:n]); err == nil {
				reply := make([]byte, 65536)
				if m, err := up.Read(reply); err == nil {
					pc.WriteTo(reply[:m], client)
				}
			}
			up.Close()
		}
	}()
}

// sensorMetrics returns the adjoin_sensor_total lines of the service's /metrics.
func sensorMetrics(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []string
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "adjoin_sensor_total") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitFor polls done every 100 ms for at most within.
func waitFor(t *testing.T, within time.Duration, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sensorAlerts returns every alert version on ALERTS.
func sensorAlerts(t *testing.T, s *natstest.Server) []*adjoinv1.Alert {
	t.Helper()
	ctx := context.Background()
	st, err := s.JS.Stream(ctx, natsx.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*adjoinv1.Alert
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var a adjoinv1.Alert
		if err := proto.Unmarshal(m.Data, &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, &a)
	}
	return out
}

// hasAlert reports an alert of detector with technique naming the account user and the source
// address src (either may be "" for any).
func hasAlert(alerts []*adjoinv1.Alert, detector, technique, user, src string) bool {
	for _, a := range alerts {
		if a.GetDetector() != detector || a.GetMitreTechniques()[0] != technique {
			continue
		}
		okUser, okSrc := user == "", src == ""
		for _, e := range a.GetEntities() {
			okUser = okUser || e.GetSamAccountName() == user
			okSrc = okSrc || (e.GetRole() == adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST && e.GetIp() == src)
		}
		if okUser && okSrc {
			return true
		}
	}
	return false
}
