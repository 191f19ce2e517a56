package chaos

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// Service is an adjoin service binary run as a child process, with its HTTP address.
type Service struct {
	*Proc
	Addr     string // host:port of its HTTP listener
	GRPCAddr string // host:port of its gRPC listener (the badge service)
}

// NewDCIngest prepares adjoin-dcingest on a free loopback port against natsURL (not started).
func NewDCIngest(bin, dir, natsURL string, replicas int, extra ...string) (*Service, error) {
	return newService("dcingest", bin, dir, natsURL, replicas, append([]string{"--shutdown-grace", "20s"}, extra...))
}

// NewEndpointIngest prepares adjoin-endpointingest on a free loopback port against natsURL
// (not started).
func NewEndpointIngest(bin, dir, natsURL string, replicas int, extra ...string) (*Service, error) {
	return newService("endpointingest", bin, dir, natsURL, replicas, append([]string{"--shutdown-grace", "20s"}, extra...))
}

// NewBadge prepares adjoin-badge on free loopback ports (HTTP and gRPC) against natsURL (not
// started).
func NewBadge(bin, dir, natsURL string, replicas int, extra ...string) (*Service, error) {
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	grpcAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	s := serviceAt("badge", bin, dir, natsURL, replicas, ports[0], append([]string{"--grpc-addr", grpcAddr}, extra...))
	s.GRPCAddr = grpcAddr
	return s, nil
}

// NewCorrelator prepares adjoin-correlator on a free loopback port against natsURL (not
// started).
func NewCorrelator(bin, dir, natsURL string, replicas int, extra ...string) (*Service, error) {
	return newService("correlator", bin, dir, natsURL, replicas, extra)
}

func newService(name, bin, dir, natsURL string, replicas int, extra []string) (*Service, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return nil, err
	}
	return serviceAt(name, bin, dir, natsURL, replicas, ports[0], extra), nil
}

func serviceAt(name, bin, dir, natsURL string, replicas, port int, extra []string) *Service {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append([]string{"--nats-url", natsURL, "--replicas", strconv.Itoa(replicas), "--http-addr", addr,
		"--log-level", "warn"}, extra...)
	return &Service{Proc: &Proc{Name: name, Path: bin, Args: args, Log: filepath.Join(dir, name+".log")}, Addr: addr}
}

// URL is the service's base HTTP URL.
func (s *Service) URL() string { return "http://" + s.Addr }

// WaitReady waits until the service's /readyz answers 200 (NATS connected, every stream and
// bucket present).
func (s *Service) WaitReady(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !s.Running() {
			return fmt.Errorf("%s ended before it was ready:\n%s", s.Name, s.LogTail(4096))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w", s.Name, s.Addr, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
