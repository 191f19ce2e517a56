package logx

import (
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LastError remembers the last error-level entry a logger wrote, so a service's heartbeat can
// report it without every call site reporting twice.
type LastError struct {
	mu  sync.Mutex
	msg string
	at  time.Time
}

// Attach returns log writing to its own core and to r.
func (r *LastError) Attach(log *zap.Logger) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewTee(c, &errorCore{r: r})
	}))
}

// Get returns the last error message and its time; "" when there was none.
func (r *LastError) Get() (string, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg, r.at
}

type errorCore struct {
	r      *LastError
	fields []zapcore.Field
}

func (c *errorCore) Enabled(l zapcore.Level) bool { return l >= zapcore.ErrorLevel }

func (c *errorCore) With(fields []zapcore.Field) zapcore.Core {
	return &errorCore{r: c.r, fields: append(append([]zapcore.Field(nil), c.fields...), fields...)}
}

func (c *errorCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *errorCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	msg := e.Message
	for _, f := range append(append([]zapcore.Field(nil), c.fields...), fields...) {
		if f.Key == FieldErr || f.Key == "error" {
			if err, ok := f.Interface.(error); ok {
				msg += ": " + err.Error()
			}
		}
	}
	c.r.mu.Lock()
	c.r.msg, c.r.at = msg, e.Time
	c.r.mu.Unlock()
	return nil
}

func (c *errorCore) Sync() error { return nil }
