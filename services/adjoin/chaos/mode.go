package chaos

import (
	"fmt"
	"os"
)

// Mode is how much fault injection a run does.
type Mode int

// Modes of a run, chosen by ADJOIN_CHAOS.
const (
	// Off skips every scenario (ADJOIN_CHAOS=off).
	Off Mode = iota
	// Reduced is the default: every scenario, small and quick, as part of `go test`.
	Reduced
	// Full is `make chaos` (ADJOIN_CHAOS=full): the sizes and kill counts of issue 7.
	Full
)

// ModeFromEnv reads ADJOIN_CHAOS: "" or "reduced", "full", or "off".
func ModeFromEnv() (Mode, error) {
	switch v := os.Getenv("ADJOIN_CHAOS"); v {
	case "", "reduced":
		return Reduced, nil
	case "full":
		return Full, nil
	case "off":
		return Off, nil
	default:
		return Off, fmt.Errorf("ADJOIN_CHAOS=%q: want reduced, full or off", v)
	}
}

func (m Mode) String() string {
	switch m {
	case Reduced:
		return "reduced"
	case Full:
		return "full"
	}
	return "off"
}

// Pick returns reduced or full according to m.
func Pick[T any](m Mode, reduced, full T) T {
	if m == Full {
		return full
	}
	return reduced
}
