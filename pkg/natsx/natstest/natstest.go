// Package natstest starts a real in-process JetStream server for tests, with adjoin's streams
// and buckets provisioned.
package natstest

import (
	"context"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/natsx"
)

// Server is a running test server with a client connection.
type Server struct {
	*server.Server
	NC *nats.Conn
	JS jetstream.JetStream
}

// Start starts a JetStream server on a free loopback port with its store in t.TempDir(),
// provisions the topology, and stops everything at the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, natsx.EmbeddedOptions{})
}

// StartWith is Start with server options, such as SyncAlways for a server as slow to
// acknowledge as the shipped configs make it; an empty StoreDir is a t.TempDir(), Port 0 a
// free port.
func StartWith(t testing.TB, o natsx.EmbeddedOptions) *Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	if o.Port == 0 {
		o.Port = -1
	}
	s, err := natsx.StartEmbedded(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := natsx.Provision(context.Background(), js, natsx.NewTopology(1)); err != nil {
		t.Fatal(err)
	}
	return &Server{Server: s, NC: nc, JS: js}
}

// KV opens a bucket of the topology.
func (s *Server) KV(t testing.TB, bucket string) jetstream.KeyValue {
	t.Helper()
	kv, err := s.JS.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}
