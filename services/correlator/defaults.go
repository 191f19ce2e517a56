package correlator

import "github.com/adjoin/adjoin/pkg/config"

// DefaultConfig is the Config the flags give when none is set. The flag definitions are the
// one place of the defaults; code that builds a Config (tests, adjoin dev) starts from this.
func DefaultConfig() Config {
	var c Config
	config.Defaults(c.Flags)
	return c
}
