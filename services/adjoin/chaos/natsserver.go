package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSServer is a nats-server process with JetStream on file storage, sync_interval always,
// on fixed loopback ports, so it can be killed and started again on the same data and address.
type NATSServer struct {
	Name                        string
	Port, HTTPPort, ClusterPort int
	StoreDir                    string
	Proc                        *Proc
}

// NewNATSServer writes the configuration of a server named name under dir. routes, when not
// empty, are the cluster ports of every member (this one included): the server joins a
// cluster named "chaos" listening on clusterPort.
func NewNATSServer(bin, dir, name string, port, httpPort, clusterPort int, routes []int) (*NATSServer, error) {
	s := &NATSServer{Name: name, Port: port, HTTPPort: httpPort, ClusterPort: clusterPort,
		StoreDir: filepath.Join(dir, name, "jetstream")}
	if err := os.MkdirAll(s.StoreDir, 0o755); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\n", name, port, httpPort)
	// An acknowledged write is on disk (on a quorum, in a cluster) before the ack: the setting
	// of the shipped configurations.
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  sync_interval: always\n}\n", s.StoreDir)
	if len(routes) > 0 {
		fmt.Fprintf(&b, "cluster {\n  name: chaos\n  listen: 127.0.0.1:%d\n  routes: [\n", clusterPort)
		for _, r := range routes {
			fmt.Fprintf(&b, "    nats-route://127.0.0.1:%d\n", r)
		}
		b.WriteString("  ]\n}\n")
	}
	conf := filepath.Join(dir, name, "nats.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	s.Proc = &Proc{Name: name, Path: bin, Args: []string{"-c", conf}, Log: filepath.Join(dir, name, "server.log")}
	return s, nil
}

// StartSingle starts one server with fresh ports under dir and waits until it is healthy.
func StartSingle(ctx context.Context, bin, dir string) (*NATSServer, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	s, err := NewNATSServer(bin, dir, "nats", ports[0], ports[1], 0, nil)
	if err != nil {
		return nil, err
	}
	if err := s.Proc.Start(); err != nil {
		return nil, err
	}
	return s, s.WaitHealthy(ctx)
}

// URL is the server's client URL.
func (s *NATSServer) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.Port) }

// WaitHealthy waits until the server's /healthz answers 200: it listens and JetStream has
// recovered its streams (and, in a cluster, is current with the meta leader).
func (s *NATSServer) WaitHealthy(ctx context.Context) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.HTTPPort)
	client := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		last = err
		if !s.Proc.Running() {
			return fmt.Errorf("%s ended: %s", s.Name, s.Proc.LogTail(2048))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy: %v (%w)", s.Name, last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Cluster is three nats-server processes routed to each other on loopback.
type Cluster struct {
	Servers []*NATSServer
}

// StartCluster starts a three-server cluster under dir and waits until every member is
// healthy (JetStream meta leader elected and every member current).
func StartCluster(ctx context.Context, bin, dir string) (*Cluster, error) {
	ports, err := FreePorts(9)
	if err != nil {
		return nil, err
	}
	routes := ports[6:9]
	c := &Cluster{}
	for i := range 3 {
		s, err := NewNATSServer(bin, dir, fmt.Sprintf("n%d", i+1), ports[i], ports[3+i], routes[i], routes)
		if err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, s)
	}
	for _, s := range c.Servers {
		if err := s.Proc.Start(); err != nil {
			return nil, err
		}
	}
	for _, s := range c.Servers {
		if err := s.WaitHealthy(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// URLs is the comma-separated client URLs of every member.
func (c *Cluster) URLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.URL())
	}
	return strings.Join(urls, ",")
}

// Server returns the member named name, or nil.
func (c *Cluster) Server(name string) *NATSServer {
	for _, s := range c.Servers {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Connect opens a client connection to url (one or several, comma-separated) that reconnects
// forever, and JetStream on it; asynchronous publishes time out after 10s.
func Connect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("adjoin-chaos"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.ReconnectBufSize(64<<20))
	if err != nil {
		return nil, nil, err
	}
	// Without a timeout, an asynchronous publish whose acknowledgement is lost with a killed
	// server would wait forever; with one it fails and is published again.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// StreamLeader returns the server that leads stream, "" while there is none.
func StreamLeader(ctx context.Context, js jetstream.JetStream, stream string) (string, error) {
	return streamLeader(ctx, js, stream, 2*time.Second)
}

// WaitNewLeader polls the stream info until a leader other than old answers, and returns it.
// Requests time out after 250 ms (a stream without a leader does not answer), so the time
// taken is the election time to within about that.
func WaitNewLeader(ctx context.Context, js jetstream.JetStream, stream, old string) (string, error) {
	for {
		l, err := streamLeader(ctx, js, stream, 250*time.Millisecond)
		if err == nil && l != "" && l != old {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no new leader of %s (was %s; last answer %q, %v): %w", stream, old, l, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func streamLeader(ctx context.Context, js jetstream.JetStream, stream string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info := st.CachedInfo()
	if info.Cluster == nil {
		return "", errors.New("stream info without cluster information")
	}
	return info.Cluster.Leader, nil
}
