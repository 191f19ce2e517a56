// Package config reads a service's settings from flags and ADJOIN_* environment variables,
// from one list of definitions, so `--help`, the environment and docs/configuration.md name the same
// settings. Precedence: flag, then environment, then default.
package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Set is one binary's settings.
type Set struct {
	fs       *flag.FlagSet
	defs     []Def
	envOnly  []envOnly
	about    string   // what the command does, first in --help
	usage    string   // the command line with its arguments
	examples []string // command lines shown under the usage
}

// envOnly is a setting read from the environment alone.
type envOnly struct {
	Def
	p *string
}

// Def describes one setting.
type Def struct {
	Flag, Env, Default, Help string
}

// New starts an empty set for the binary name.
func New(name string) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &Set{fs: fs}
}

// Name is the binary name the set was started for.
func (s *Set) Name() string { return s.fs.Name() }

// Defaults runs define on a throwaway Set and parses nothing: every setting it defines holds
// its default, whatever the environment says. A service's DefaultConfig is built this way, so
// its flag definitions stay the one place of its defaults.
func Defaults(define func(*Set)) {
	define(New("defaults"))
}

// EnvName is the environment variable of a flag: ADJOIN_ plus the flag upper-cased with
// dashes as underscores.
func EnvName(flagName string) string {
	return "ADJOIN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *Set) def(name, def, help string) {
	s.defs = append(s.defs, Def{Flag: name, Env: EnvName(name), Default: def, Help: help})
}

// String defines a string setting.
func (s *Set) String(p *string, name, def, help string) {
	s.fs.StringVar(p, name, def, help)
	s.def(name, def, help)
}

// Int defines an int setting.
func (s *Set) Int(p *int, name string, def int, help string) {
	s.fs.IntVar(p, name, def, help)
	s.def(name, fmt.Sprint(def), help)
}

// Bool defines a bool setting.
func (s *Set) Bool(p *bool, name string, def bool, help string) {
	s.fs.BoolVar(p, name, def, help)
	s.def(name, fmt.Sprint(def), help)
}

// Duration defines a duration setting.
func (s *Set) Duration(p *time.Duration, name string, def time.Duration, help string) {
	s.fs.DurationVar(p, name, def, help)
	s.def(name, def.String(), help)
}

// EnvOnly defines a string setting read only from its ADJOIN_* environment variable, never
// from a flag: secrets given as flags show in every process listing.
func (s *Set) EnvOnly(p *string, name, help string) {
	s.envOnly = append(s.envOnly, envOnly{Def: Def{Env: EnvName(name), Help: help}, p: p})
}

// EnvOnlyDefs lists the environment-only settings in definition order; their Flag is empty.
func (s *Set) EnvOnlyDefs() []Def {
	out := make([]Def, len(s.envOnly))
	for i, e := range s.envOnly {
		out[i] = e.Def
	}
	return out
}

// Describe gives --help what comes before the settings: what the command does (about), its
// command line with the arguments it takes (usage, such as "adjoin alerts [flags] NAME") and
// examples. A parse error repeats the usage line.
func (s *Set) Describe(about, usage string, examples ...string) {
	s.about, s.usage, s.examples = about, usage, examples
}

// Env gives an already defined flag another environment variable than ADJOIN_<FLAG>, where the
// default name would mean something else in another command (one meaning per variable).
func (s *Set) Env(flagName, env string) {
	for i := range s.defs {
		if s.defs[i].Flag == flagName {
			s.defs[i].Env = env
			return
		}
	}
	panic("config: Env of undefined flag " + flagName)
}

// Defs lists the settings in definition order.
func (s *Set) Defs() []Def { return s.defs }

// ErrHelp is returned by Parse when -h or --help was asked for; the usage is already printed.
var ErrHelp = flag.ErrHelp

// Parse applies the environment, then args. Unknown flags and bad values are errors that name
// the setting.
func (s *Set) Parse(args []string, stdout io.Writer) error {
	for _, d := range s.defs {
		if v, ok := os.LookupEnv(d.Env); ok {
			if err := s.fs.Set(d.Flag, v); err != nil {
				return fmt.Errorf("environment %s=%q: %w", d.Env, v, err)
			}
		}
	}
	for _, e := range s.envOnly {
		if v, ok := os.LookupEnv(e.Env); ok {
			*e.p = v
		}
	}
	if err := s.fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			s.Usage(stdout)
			return ErrHelp
		}
		if s.usage != "" {
			return fmt.Errorf("%s: %w\nusage: %s (%s --help lists the flags)", s.fs.Name(), err, s.usage, s.fs.Name())
		}
		return fmt.Errorf("%s: %w (see --help)", s.fs.Name(), err)
	}
	return nil
}

// UsageLine is the command line given to Describe, or "" when none was.
func (s *Set) UsageLine() string { return s.usage }

// Args returns the arguments left after the flags.
func (s *Set) Args() []string { return s.fs.Args() }

// Usage prints every setting with its environment variable and default.
func (s *Set) Usage(w io.Writer) {
	if s.about != "" {
		fmt.Fprintf(w, "%s\n\n", s.about)
	}
	if s.usage != "" {
		fmt.Fprintf(w, "Usage: %s\n\n", s.usage)
	}
	if len(s.examples) > 0 {
		fmt.Fprintln(w, "Example:")
		for _, e := range s.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
		fmt.Fprintln(w)
	}
	if s.about != "" || s.usage != "" {
		fmt.Fprintln(w, "Settings (a flag, or its environment variable; a flag wins):")
	} else {
		fmt.Fprintf(w, "Usage of %s:\n", s.fs.Name())
	}
	defs := append([]Def(nil), s.defs...)
	sort.SliceStable(defs, func(i, j int) bool { return defs[i].Flag < defs[j].Flag })
	for _, d := range defs {
		fmt.Fprintf(w, "  --%s (env %s, default %q)\n        %s\n", d.Flag, d.Env, d.Default, d.Help)
	}
	for _, e := range s.envOnly {
		fmt.Fprintf(w, "  %s (environment only)\n        %s\n", e.Env, e.Help)
	}
}

// SplitList splits a comma-separated setting (file patterns, addresses, accounts), dropping
// blanks and the spaces around each item.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
