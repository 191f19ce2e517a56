package natsx

import (
	"errors"
	"fmt"

	"github.com/adjoin/adjoin/pkg/config"
)

// Settings are the NATS settings every service shares.
type Settings struct {
	ConnectOptions
	// Replicas of streams and buckets: 1 on a single server, 3 on a cluster.
	Replicas int
}

// Flags defines the NATS settings on s.
func (c *Settings) Flags(s *config.Set) {
	s.String(&c.URL, "nats-url", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")
	s.String(&c.User, "nats-user", "", "NATS user name")
	s.String(&c.Password, "nats-password", "", "NATS password")
	s.String(&c.CredsFile, "nats-creds", "", "NATS credentials file (JWT and nkey)")
	s.Int(&c.Replicas, "replicas", 1, "replicas of streams and buckets: 1, or 3 on a cluster")
}

// Validate names the first bad NATS setting.
func (c Settings) Validate() error {
	switch {
	case c.URL == "":
		return errors.New("nats-url: required")
	case c.Replicas != 1 && c.Replicas != 3:
		return fmt.Errorf("replicas: %d, want 1 or 3", c.Replicas)
	}
	return nil
}
