package adjoin

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
)

// TestShippedNATSConfigsSyncAlways fails when a shipped NATS configuration with a jetstream
// block does not sync every write (DESIGN.md: an acknowledgement to a sender means on disk).
func TestShippedNATSConfigsSyncAlways(t *testing.T) {
	t.Parallel()
	found := 0
	for _, root := range []string{"../../deploy"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			switch {
			case os.IsNotExist(err) && path == root:
				return fs.SkipDir
			case err != nil:
				return err
			case d.IsDir() && d.Name() == "secrets":
				return fs.SkipDir
			case d.IsDir() || !strings.HasSuffix(path, ".conf"):
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			block, ok, err := jetstreamBlock(string(b))
			if err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			if !ok {
				return nil
			}
			found++
			if v, _ := block["sync_interval"].(string); v != "always" {
				t.Errorf("%s: jetstream sync_interval = %v, want always", path, block["sync_interval"])
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found == 0 {
		t.Fatal("no shipped NATS configuration with a jetstream block")
	}
}

var jetstreamKey = regexp.MustCompile(`(?m)^[ \t]*jetstream[ \t]*[:=]?[ \t]*`)

// jetstreamBlock finds the top-level jetstream setting of a configuration's text and parses
// it alone, so files that include secrets or refer to variables need neither.
func jetstreamBlock(text string) (map[string]any, bool, error) {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexAny(line, "#"); i >= 0 {
			line = line[:i]
		}
		lines = append(lines, line)
	}
	text = strings.Join(lines, "\n")
	loc := jetstreamKey.FindStringIndex(text)
	if loc == nil {
		return nil, false, nil
	}
	rest := text[loc[1]:]
	if !strings.HasPrefix(rest, "{") {
		return nil, true, fmt.Errorf("jetstream is not a block, so it lacks sync_interval: always")
	}
	depth := 0
	for i, r := range rest {
		switch r {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth == 0 {
			m, err := conf.Parse("jetstream " + rest[:i+1])
			if err != nil {
				return nil, true, err
			}
			block, _ := m["jetstream"].(map[string]any)
			return block, true, nil
		}
	}
	return nil, true, fmt.Errorf("jetstream block not closed")
}

// TestShippedNATSCluster runs the three servers of the clustered profile from cluster-N.conf
// (routes on loopback instead of the Compose host names): the peers form a cluster over TLS,
// R3 provisioning works, a service user publishes, and a server presenting a service's client
// certificate (same CA) is not taken as a peer.
func TestShippedNATSCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	dir, secrets := stageNATS(t)
	ports := make([]int, 4)
	var routes []string
	for i := range ports {
		ports[i] = freePort(t)
		if i < 3 {
			routes = append(routes, fmt.Sprintf("nats-route://localhost:%d", ports[i]))
		}
	}
	var servers []*server.Server
	for i := range 3 {
		o := natstest.ConfigOptions(t, filepath.Join(dir, fmt.Sprintf("cluster-%d.conf", i+1)))
		o.Cluster.Port, o.Routes = ports[i], server.RoutesFromStr(strings.Join(routes, ","))
		servers = append(servers, natstest.StartOptions(t, o, nil))
	}
	testkit.Eventually(t, 30*time.Second, func() error {
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				return nil
			}
		}
		return fmt.Errorf("no JetStream meta leader")
	})
	srv := &secureNATS{Server: servers[0], dir: dir, secrets: secrets}
	var out, errOut strings.Builder
	args := append([]string{"provision"}, srv.adminArgs()...)
	if code := Main(context.Background(), append(args, "--replicas", "3", "--timeout", "60s"), &out, &errOut); code != 0 {
		t.Fatalf("adjoin provision --replicas 3: exit %d: %s%s", code, out.String(), errOut.String())
	}
	u := (&secureNATS{Server: servers[1], secrets: secrets}).connect(t, "dcingest")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := publishOp("events.dc.security.4624")(ctx, u); err != nil {
		t.Fatalf("publish on an R3 stream through nats-2: %v", err)
	}

	// An intruder with dcingest's certificate tries to join as nats-4.
	o := natstest.ConfigOptions(t, filepath.Join(dir, "cluster-1.conf"))
	o.ServerName, o.Cluster.Port, o.Routes = "nats-4", ports[3], server.RoutesFromStr(routes[0])
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: filepath.Join(secrets, "nats-dcingest.crt"),
		KeyFile: filepath.Join(secrets, "nats-dcingest.key"), CaFile: filepath.Join(secrets, "ca.crt"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	tc.RootCAs = tc.ClientCAs // what the server does for the shipped cluster block
	o.Cluster.TLSConfig = tc
	o.JetStream = false
	ilog := &natstest.ServerLog{}
	intruder := natstest.StartOptions(t, o, ilog)
	testkit.Eventually(t, 10*time.Second, func() error {
		if len(ilog.Lines("Route Error 'Authorization Violation'")) == 0 {
			return fmt.Errorf("the intruder was not refused: %q", ilog.Lines(""))
		}
		return nil
	})
	if n := intruder.NumRoutes(); n != 0 {
		t.Errorf("the intruder has %d routes, want 0", n)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
