// Package logx builds the one zap logger each binary passes down, with the same field names in
// every service (service, entity, alert_id, detector, subject, err).
package logx

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Field names shared by every service, so logs can be searched the same way everywhere.
const (
	FieldService  = "service"
	FieldEntity   = "entity"
	FieldAlertID  = "alert_id"
	FieldDetector = "detector"
	FieldSubject  = "subject"
)

// New returns a logger writing to stderr at level ("debug", "info", "warn", "error") in
// format "json" or "console". The console format colours the level only when stderr is a
// terminal and NO_COLOR is not set, so logs written to a file or a pipe carry no ANSI codes.
func New(level, format string) (*zap.Logger, error) {
	return newTo(level, format, os.Stderr)
}

// newTo is New writing to out.
func newTo(level, format string, out *os.File) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	var encoder zapcore.Encoder
	switch format {
	case "json", "":
		encoder = zapcore.NewJSONEncoder(enc)
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		if isTerminal(out) && os.Getenv("NO_COLOR") == "" {
			enc.EncodeLevel = zapcore.CapitalColorLevelEncoder
		}
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	core := zapcore.NewCore(encoder, zapcore.Lock(out), lvl)
	return zap.New(core, zap.ErrorOutput(zapcore.Lock(out))), nil
}

// isTerminal reports whether f is a character device (a terminal), not a file or a pipe.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Service returns log with the service field set.
func Service(log *zap.Logger, name string) *zap.Logger {
	return log.With(zap.String(FieldService, name))
}

// FieldErr is the field name of an error in every service's logs.
const FieldErr = "err"

// Err is the error field, named err everywhere (zap.Error would name it error).
func Err(err error) zap.Field { return zap.NamedError(FieldErr, err) }
