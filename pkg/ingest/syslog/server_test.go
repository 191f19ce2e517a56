package syslog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

// collector records what Handle received; block, when set, is waited on before each call
// returns, and fail makes calls fail.
type collector struct {
	mu      sync.Mutex
	batches [][]Message
	calls   chan []Message
	block   chan struct{}
	fail    error
	ctxErrs []error // Handle's context error at the end of each call
}

func newCollector() *collector { return &collector{calls: make(chan []Message, 1000)} }

func (c *collector) handle(ctx context.Context, msgs []Message) error {
	select {
	case c.calls <- msgs:
	default: // nobody is watching calls this far
	}
	if c.block != nil {
		<-c.block
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ctxErrs = append(c.ctxErrs, ctx.Err())
	if c.fail != nil {
		return c.fail
	}
	c.batches = append(c.batches, msgs)
	return nil
}

// waitMsgs waits until Handle stored n messages and returns them in order.
func (c *collector) waitMsgs(t *testing.T, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		var all []Message
		for _, b := range c.batches {
			all = append(all, b...)
		}
		c.mu.Unlock()
		if len(all) >= n {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d messages after 5s, want %d: %v", len(all), n, msgTexts(all))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msgTexts(ms []Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		if m.Oversize > 0 {
			out[i] = fmt.Sprintf("oversize:%d", m.Oversize)
		} else {
			out[i] = string(m.Msg)
		}
	}
	return out
}

type running struct {
	tcp, udp string
	cancel   context.CancelFunc
	done     chan error
}

// start runs s on loopback TCP and UDP ports and stops it at the end of the test.
func start(t *testing.T, s *Server) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.TCPListener, s.UDPConn = ln, pc
	if s.Log == nil {
		s.Log = zaptest.NewLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{tcp: ln.Addr().String(), udp: pc.LocalAddr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
	return r
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// writeInPieces writes s a few bytes at a time, so messages and lengths arrive split.
func writeInPieces(t *testing.T, c net.Conn, s string, piece int) {
	t.Helper()
	for len(s) > 0 {
		n := min(piece, len(s))
		write(t, c, s[:n])
		s = s[n:]
		time.Sleep(time.Millisecond)
	}
}

func octet(msgs ...string) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "%d %s", len(m), m)
	}
	return b.String()
}

const (
	msg5424 = `<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed`
	msg3164 = `<34>Oct 11 22:14:15 mymachine su: second`
	msgJSON = `{"EventID":4624,"Channel":"Security"}`
)

func TestServerTCPFraming(t *testing.T) {
	t.Parallel()
	multiline := "<13>1 - host app - - - line one\nline two"
	tests := []struct {
		name  string
		send  string
		piece int
		want  []string
	}{
		{"octet counting", octet(msg5424, msg3164, msgJSON), 0, []string{"'su root' failed", "second", msgJSON}},
		{"octet counting in pieces", octet(msg5424, msg3164, multiline), 3, []string{"'su root' failed", "second", "line one\nline two"}},
		{"octet counting with trailing newlines", octet(msg5424) + "\n" + octet(msg3164) + "\r\n", 0, []string{"'su root' failed", "second"}},
		{"newline framing", msg5424 + "\n" + msg3164 + "\r\n\n" + msgJSON + "\n", 0, []string{"'su root' failed", "second", msgJSON}},
		{"newline framing in pieces, last line without LF", msg5424 + "\n" + msgJSON, 5, []string{"'su root' failed", msgJSON}},
		{"newline framing of a line starting with digits", "2024-03-01 something happened\n" + msgJSON + "\n", 0, []string{"2024-03-01 something happened", msgJSON}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			col := newCollector()
			r := start(t, &Server{Handle: col.handle})
			c := dial(t, r.tcp)
			if tt.piece > 0 {
				writeInPieces(t, c, tt.send, tt.piece)
			} else {
				write(t, c, tt.send)
			}
			c.(*net.TCPConn).CloseWrite()
			got := col.waitMsgs(t, len(tt.want))
			if strings.Join(msgTexts(got), "|") != strings.Join(tt.want, "|") {
				t.Errorf("messages = %q, want %q", msgTexts(got), tt.want)
			}
			for _, m := range got {
				if m.Remote != "tcp:"+c.LocalAddr().String() {
					t.Errorf("Remote = %q, want tcp:%s", m.Remote, c.LocalAddr())
				}
			}
		})
	}
}

// An oversized message is refused and the connection goes on with the next one.
func TestServerOversized(t *testing.T) {
	t.Parallel()
	big := "<13>" + strings.Repeat("x", 296)
	tests := []struct {
		name string
		send string
	}{
		{"octet counting", octet(big, msgJSON)},
		{"newline framing", big + "\n" + msgJSON + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			col := newCollector()
			r := start(t, &Server{Handle: col.handle, MaxMessage: 100})
			c := dial(t, r.tcp)
			writeInPieces(t, c, tt.send, 64)
			got := col.waitMsgs(t, 2)
			if got[0].Oversize != 300 || string(got[0].Raw) != big || got[0].Msg != nil {
				t.Errorf("first message = oversize %d raw %q msg %q; want oversize 300 with the head kept", got[0].Oversize, got[0].Raw, got[0].Msg)
			}
			if string(got[1].Msg) != msgJSON || got[1].Oversize != 0 {
				t.Errorf("second message = %q, want %q", got[1].Msg, msgJSON)
			}
			// Still open: one more message goes through.
			write(t, c, octetOrLine(tt.name, msg3164))
			if got := col.waitMsgs(t, 3); string(got[2].Msg) != "second" {
				t.Errorf("third message = %q, want second", got[2].Msg)
			}
		})
	}
}

func octetOrLine(name, m string) string {
	if strings.HasPrefix(name, "octet") {
		return octet(m)
	}
	return m + "\n"
}

// While Handle has not returned the server reads nothing more, so a fast sender blocks.
func TestServerBackpressure(t *testing.T) {
	t.Parallel()
	col := newCollector()
	col.block = make(chan struct{})
	r := start(t, &Server{Handle: col.handle, MaxBatch: 1})
	c := dial(t, r.tcp)
	write(t, c, msgJSON+"\n")
	<-col.calls // Handle now holds the first message

	line := []byte(strings.Repeat("y", 1023) + "\n")
	if err := c.SetWriteDeadline(time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	written, err := 0, error(nil)
	for written < 512<<20 && err == nil {
		var n int
		n, err = c.Write(line)
		written += n
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("wrote %d bytes without blocking (err %v); want the write to block while Handle runs", written, err)
	}
	t.Logf("sender blocked after %d bytes", written)
	close(col.block)
	if got := col.waitMsgs(t, 2); string(got[0].Msg) != msgJSON {
		t.Errorf("first message = %q", got[0].Msg)
	}
}

// A failed Handle closes the connection, so the sender knows to resend.
func TestServerHandleErrorClosesConnection(t *testing.T) {
	t.Parallel()
	col := newCollector()
	col.fail = errors.New("jetstream did not acknowledge")
	r := start(t, &Server{Handle: col.handle})
	c := dial(t, r.tcp)
	write(t, c, msgJSON+"\n")
	<-col.calls
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read after failed Handle = %v, want the connection closed", err)
	}
	// Another connection is served as usual.
	col.mu.Lock()
	col.fail = nil
	col.mu.Unlock()
	c2 := dial(t, r.tcp)
	write(t, c2, msg3164+"\n")
	if got := col.waitMsgs(t, 1); string(got[0].Msg) != "second" {
		t.Errorf("message on the new connection = %q", got[0].Msg)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// An octet-counted connection whose framing breaks delivers what came before and closes.
func TestServerFramingError(t *testing.T) {
	t.Parallel()
	col := newCollector()
	r := start(t, &Server{Handle: col.handle})
	c := dial(t, r.tcp)
	write(t, c, octet(msgJSON)+"garbage\n")
	if got := col.waitMsgs(t, 1); string(got[0].Msg) != msgJSON {
		t.Errorf("message = %q", got[0].Msg)
	}
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := c.Read(b[:]); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read = %v, want the connection closed", err)
	}
}

// Messages are batched: many small messages sent at once reach Handle in few calls.
func TestServerBatches(t *testing.T) {
	t.Parallel()
	col := newCollector()
	r := start(t, &Server{Handle: col.handle, MaxBatch: 50, BatchDelay: 200 * time.Millisecond})
	c := dial(t, r.tcp)
	var b strings.Builder
	for i := range 120 {
		fmt.Fprintf(&b, "<13>1 - h a - - - m%d\n", i)
	}
	write(t, c, b.String())
	got := col.waitMsgs(t, 120)
	for i, m := range got {
		if string(m.Msg) != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d = %q", i, m.Msg)
		}
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.batches) != 3 {
		t.Errorf("120 messages came in %d batches, want 3 of at most 50", len(col.batches))
	}
}

func TestServerUDP(t *testing.T) {
	t.Parallel()
	col := newCollector()
	r := start(t, &Server{Handle: col.handle, MaxMessage: 100})
	c, err := net.Dial("udp", r.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range []string{msg5424 + "\n", "<13>" + strings.Repeat("z", 196), msgJSON} {
		if _, err := io.WriteString(c, d); err != nil {
			t.Fatal(err)
		}
	}
	got := col.waitMsgs(t, 3)
	if string(got[0].Msg) != "'su root' failed" || got[1].Oversize != 200 || string(got[2].Msg) != msgJSON {
		t.Errorf("messages = %q", msgTexts(got))
	}
	if got[0].Remote != "udp:"+c.LocalAddr().String() {
		t.Errorf("Remote = %q, want udp:%s", got[0].Remote, c.LocalAddr())
	}
}

// At shutdown the batch in hand finishes with a live context, the complete messages already
// read are handed over too, and Run returns.
func TestServerGracefulShutdown(t *testing.T) {
	t.Parallel()
	col := newCollector()
	col.block = make(chan struct{})
	s := &Server{Handle: col.handle, MaxBatch: 1}
	r := start(t, s)
	c := dial(t, r.tcp)
	write(t, c, "<13>1 - h a - - - one\n<13>1 - h a - - - two\n<13>1 - h a - - - three\n")
	<-col.calls
	r.cancel()
	time.Sleep(50 * time.Millisecond) // let shutdown reach the connection while Handle runs
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v while a batch was in hand", err)
	default:
	}
	close(col.block)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		r.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the batch finished")
	}
	got := col.waitMsgs(t, 3)
	if strings.Join(msgTexts(got), ",") != "one,two,three" {
		t.Errorf("messages = %q, want one,two,three", msgTexts(got))
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	for i, err := range col.ctxErrs {
		if err != nil {
			t.Errorf("Handle call %d saw a cancelled context: %v", i, err)
		}
	}
	if _, err := net.Dial("tcp", r.tcp); err == nil {
		t.Error("listener still accepting after shutdown")
	}
}

func TestServerConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := (&Server{TCPAddr: "127.0.0.1:0"}).Run(ctx); err == nil {
		t.Error("Run without Handle succeeded")
	}
	if err := (&Server{Handle: newCollector().handle}).Run(ctx); err == nil {
		t.Error("Run without any address succeeded")
	}
	if err := (&Server{Handle: newCollector().handle, TCPAddr: "256.0.0.1:1"}).Run(ctx); err == nil {
		t.Error("Run on a bad address succeeded")
	}
	// Addresses instead of listeners.
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- (&Server{Handle: newCollector().handle, TCPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0"}).Run(ctx)
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
