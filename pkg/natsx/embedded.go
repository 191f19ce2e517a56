package natsx

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedOptions configures an in-process JetStream server.
type EmbeddedOptions struct {
	// StoreDir holds the JetStream data; it survives restarts of the server.
	StoreDir string
	// Host and Port to listen on; Port -1 picks a free port.
	Host string
	Port int
	// SyncAlways makes every acknowledged write reach the disk first, as the shipped configs do.
	SyncAlways bool
}

// StartEmbedded starts a JetStream server in this process and waits until it accepts
// connections. Call Shutdown and WaitForShutdown on the result to stop it.
func StartEmbedded(o EmbeddedOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: StoreDir is required")
	}
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "adjoin-embedded",
		Host:       host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		SyncAlways: o.SyncAlways,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 10s (store %s)", o.StoreDir)
	}
	return s, nil
}
