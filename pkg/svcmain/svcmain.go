// Package svcmain is the body of every service binary's main: settings from flags and
// ADJOIN_* variables, the logger, SIGINT/SIGTERM as context cancellation, and the exit code.
package svcmain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/config"
	"github.com/adjoin/adjoin/pkg/logx"
)

// Doc is what a binary's --help says before its settings.
type Doc struct {
	About   string // what the service does, in a few sentences
	Example string // a command line that starts it
}

// Main parses args into the settings define registers, then calls run until a signal arrives.
// It returns the process exit code. A stop by SIGINT or SIGTERM that ends run without an error
// is logged as a clean shutdown.
func Main(name string, doc Doc, args []string, define func(*config.Set), run func(context.Context, *zap.Logger) error) int {
	s := config.New(name)
	s.Describe(doc.About, name+" [flags]", doc.Example)
	var level, format string
	var version bool
	Common(s, &level, &format, &version)
	define(s)
	if err := s.Parse(args, os.Stdout); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if len(s.Args()) > 0 {
		fmt.Fprintf(os.Stderr, "%s: takes no arguments, got %q\nusage: %s [flags] (%s --help lists the flags)\n", name, s.Args(), name, name)
		return 2
	}
	if version {
		fmt.Println(name, Version())
		return 0
	}
	log, err := logx.New(level, format)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer log.Sync() //nolint:errcheck // stderr sync errors are not actionable
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log); err != nil {
		log.Error("exiting", logx.Err(err))
		return 1
	}
	log.Info(StoppedCleanly, zap.String("service", name))
	return 0
}

// StoppedCleanly is the message of the last log line of a binary that stopped without an
// error: every service, and `adjoin dev`.
const StoppedCleanly = "stopped cleanly"

// Common defines the settings every binary has: --log-level, --log-format and --version.
func Common(s *config.Set, level, format *string, version *bool) {
	s.String(level, "log-level", "info", "log level: debug, info, warn, error")
	s.String(format, "log-format", "json", "log format: json or console")
	s.Bool(version, "version", false, "print the version and exit")
}

// commit is the VCS revision the Makefile gives the linker (-X ...svcmain.commit=...), for
// builds that carry no VCS information: GOFLAGS=-buildvcs=false, images built from a copy.
var commit string

// Version is what --version prints after the binary's name: the main module's path and
// version, the commit (the linker's, else the build's vcs.revision, "+dirty" when the tree had
// changes) and the Go version.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	return version(bi, commit)
}

func version(bi *debug.BuildInfo, linked string) string {
	rev, dirty := linked, false
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision" && rev == "":
			rev = s.Value
		case s.Key == "vcs.modified" && linked == "":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		rev = "unknown"
	}
	if dirty {
		rev += "+dirty"
	}
	return fmt.Sprintf("%s %s, commit %s, %s", bi.Main.Path, bi.Main.Version, rev, bi.GoVersion)
}
