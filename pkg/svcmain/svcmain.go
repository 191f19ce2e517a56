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

// Main parses args into the settings define registers, then calls run until a signal arrives.
// It returns the process exit code.
func Main(name string, args []string, define func(*config.Set), run func(context.Context, *zap.Logger) error) int {
	s := config.New(name)
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
	return 0
}

// Common defines the settings every binary has: --log-level, --log-format and --version.
func Common(s *config.Set, level, format *string, version *bool) {
	s.String(level, "log-level", "info", "log level: debug, info, warn, error")
	s.String(format, "log-format", "json", "log format: json or console")
	s.Bool(version, "version", false, "print the version and exit")
}

// Version is the module version and VCS revision the binary was built from.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
