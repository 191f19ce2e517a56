package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/adjoin/adjoin/pkg/logx"
)

// Server receives syslog over TCP and UDP and passes batches of messages to Handle. See the
// package comment for framing, backpressure and what UDP does not guarantee.
type Server struct {
	// TCPAddr and UDPAddr are listened on when TCPListener or UDPConn is nil; an empty
	// address with a nil listener turns that transport off. Run closes both at the end.
	TCPAddr, UDPAddr string
	TCPListener      net.Listener
	UDPConn          net.PacketConn
	// Handle stores a batch. It is called from one goroutine per TCP connection and one for
	// UDP, so it must be safe for concurrent use. For TCP, an error closes the connection.
	// Its context outlives Run's by ShutdownGrace, so the batch in hand can finish.
	Handle func(ctx context.Context, msgs []Message) error
	// MaxMessage bounds one message in bytes (default 256 KiB, well under NATS's default 1 MiB
	// payload limit, so that a message accepted here can always be published). A longer one is
	// refused: it reaches Handle with only Oversize and the first bytes of Raw set, and the
	// connection goes on with the next message.
	MaxMessage int
	Log        *zap.Logger
	// MaxBatch is the most messages passed to Handle at once (default 512).
	MaxBatch int
	// BatchDelay is how long a batch stays open after its first message for more to come
	// (default 20 ms): the latency added to a lone message.
	BatchDelay time.Duration
	// ShutdownGrace bounds the batch in hand once Run's context ended (default 10 s).
	ShutdownGrace time.Duration
}

// Defaults of the zero Server.
const (
	DefaultMaxMessage    = 256 << 10
	DefaultMaxBatch      = 512
	DefaultBatchDelay    = 20 * time.Millisecond
	DefaultShutdownGrace = 10 * time.Second
)

// Run listens until ctx ends, then stops accepting, lets every connection hand its batch in
// hand (and the complete messages already read) to Handle, and returns once all are done. It
// returns an error when it cannot listen, or when accepting or reading fails for good.
func (s *Server) Run(ctx context.Context) error {
	if s.Handle == nil {
		return errors.New("syslog: Handle is nil")
	}
	ln, pc := s.TCPListener, s.UDPConn
	if ln == nil && s.TCPAddr != "" {
		var err error
		if ln, err = net.Listen("tcp", s.TCPAddr); err != nil {
			return fmt.Errorf("syslog tcp: %w", err)
		}
	}
	if pc == nil && s.UDPAddr != "" {
		var err error
		if pc, err = net.ListenPacket("udp", s.UDPAddr); err != nil {
			if ln != nil {
				ln.Close()
			}
			return fmt.Errorf("syslog udp: %w", err)
		}
	}
	if ln == nil && pc == nil {
		return errors.New("syslog: no TCP or UDP address to listen on")
	}
	g, gctx := errgroup.WithContext(ctx)
	// Batches in hand finish on this context: it ends ShutdownGrace after gctx.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stopGrace := context.AfterFunc(gctx, func() { time.AfterFunc(s.grace(), hcancel) })
	defer stopGrace()
	if ln != nil {
		s.log().Info("syslog listening", zap.String("tcp", ln.Addr().String()))
		g.Go(func() error { return s.serveTCP(gctx, hctx, ln) })
	}
	if pc != nil {
		s.log().Info("syslog listening", zap.String("udp", pc.LocalAddr().String()))
		g.Go(func() error { return s.serveUDP(gctx, hctx, pc) })
	}
	return g.Wait()
}

func (s *Server) serveTCP(ctx, hctx context.Context, ln net.Listener) error {
	var (
		mu       sync.Mutex
		conns    = map[*stoppable]struct{}{}
		stopping bool
		wg       sync.WaitGroup
	)
	shutdown := sync.OnceFunc(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		stopping = true
		for c := range conns {
			c.stop()
		}
	})
	stopWatch := context.AfterFunc(ctx, shutdown)
	defer stopWatch()
	defer wg.Wait()
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.log().Warn("syslog accept failed; retrying", logx.Err(err))
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			shutdown()
			return fmt.Errorf("syslog tcp accept: %w", err)
		}
		backoff = 5 * time.Millisecond
		c := &stoppable{conn: conn}
		mu.Lock()
		if stopping {
			mu.Unlock()
			conn.Close()
			continue
		}
		conns[c] = struct{}{}
		wg.Add(1)
		mu.Unlock()
		go func() {
			defer wg.Done()
			s.serveConn(hctx, c, conn)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

// serveConn reads batches from one connection. It reads no further while Handle runs, so a
// sender faster than storage fills its TCP window and waits; when Handle fails it closes the
// connection, which is the only failure a plain syslog sender understands.
func (s *Server) serveConn(hctx context.Context, c *stoppable, conn net.Conn) {
	defer conn.Close()
	remote := "tcp:" + conn.RemoteAddr().String()
	log := s.log().With(zap.String("remote", remote))
	f := newFramer(conn, s.maxMessage())
	for {
		batch, err := s.readBatch(c, f, remote)
		if len(batch) > 0 {
			if herr := s.Handle(hctx, batch); herr != nil {
				log.Warn("syslog batch not stored; closing the connection so the sender resends",
					zap.Int("messages", len(batch)), logx.Err(herr))
				return
			}
		}
		switch {
		case err == nil:
			continue
		case c.stopped():
			log.Debug("syslog connection closed at shutdown")
		case errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrClosed):
			log.Debug("syslog connection closed")
		case errors.Is(err, errFraming):
			log.Warn("syslog connection closed: framing lost", logx.Err(err))
		default:
			log.Debug("syslog connection ended", logx.Err(err))
		}
		return
	}
}

// readBatch waits for a first message, then takes more for up to BatchDelay or MaxBatch
// messages. The error, if any, ends the connection after the batch is handled.
func (s *Server) readBatch(c *stoppable, f *framer, remote string) ([]Message, error) {
	c.deadline(time.Time{})
	var batch []Message
	for len(batch) < s.maxBatch() {
		raw, oversize, err := f.next()
		if err != nil {
			if isTimeout(err) && !c.stopped() {
				return batch, nil // the batch delay is over
			}
			return batch, err
		}
		batch = append(batch, s.message(raw, oversize, remote))
		if len(batch) == 1 {
			c.deadline(time.Now().Add(s.batchDelay()))
		}
	}
	return batch, nil
}

func (s *Server) serveUDP(ctx, hctx context.Context, pc net.PacketConn) error {
	c := &stoppable{conn: pc}
	stopWatch := context.AfterFunc(ctx, c.stop)
	defer stopWatch()
	defer pc.Close()
	buf := make([]byte, 65536) // the largest datagram, so an oversized one is measured whole
	for {
		batch, err := s.readDatagrams(c, pc, buf)
		if len(batch) > 0 {
			if herr := s.Handle(hctx, batch); herr != nil {
				// Nobody to tell over UDP: the batch is lost, and the log says how much.
				s.log().Error("syslog UDP batch not stored; its messages are lost",
					zap.Int("messages", len(batch)), logx.Err(herr))
			}
		}
		switch {
		case err == nil:
		case c.stopped(), ctx.Err() != nil, errors.Is(err, net.ErrClosed):
			return nil
		default:
			s.log().Warn("syslog UDP read failed", logx.Err(err))
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// readDatagrams is readBatch for UDP: one datagram is one message (RFC 5426).
func (s *Server) readDatagrams(c *stoppable, pc net.PacketConn, buf []byte) ([]Message, error) {
	c.deadline(time.Time{})
	var batch []Message
	for len(batch) < s.maxBatch() {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if isTimeout(err) && !c.stopped() {
				return batch, nil
			}
			return batch, err
		}
		if len(bytes.TrimRight(buf[:n], "\r\n\x00")) == 0 {
			continue
		}
		raw, oversize := buf[:n], 0
		if n > s.maxMessage() {
			raw, oversize = raw[:min(n, headKeep)], n
		}
		batch = append(batch, s.message(bytes.Clone(raw), oversize, "udp:"+addr.String()))
		if len(batch) == 1 {
			c.deadline(time.Now().Add(s.batchDelay()))
		}
	}
	return batch, nil
}

// message parses one framed message. A header that does not parse is not a reason to drop the
// message: it is delivered whole as Msg, for Handle to accept or refuse.
func (s *Server) message(raw []byte, oversize int, remote string) Message {
	if oversize > 0 {
		s.log().Debug("syslog message over MaxMessage", zap.String("remote", remote), zap.Int("bytes", oversize))
		return Message{Facility: 1, Severity: 5, Raw: raw, Remote: remote, Oversize: oversize}
	}
	m, err := ParseMessage(raw)
	if err != nil {
		s.log().Debug("syslog header not understood; delivering the whole message", zap.String("remote", remote), logx.Err(err))
	}
	m.Remote = remote
	return m
}

// stoppable serialises read deadlines with shutdown, so that a deadline set for a batch
// cannot undo the one shutdown set to wake a blocked read.
type stoppable struct {
	conn     interface{ SetReadDeadline(time.Time) error }
	mu       sync.Mutex
	stopping bool
}

func (c *stoppable) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopping = true
	_ = c.conn.SetReadDeadline(time.Unix(1, 0))
}

func (c *stoppable) deadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopping {
		_ = c.conn.SetReadDeadline(t)
	}
}

func (c *stoppable) stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopping
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func (s *Server) log() *zap.Logger {
	if s.Log == nil {
		return zap.NewNop()
	}
	return s.Log
}

func (s *Server) maxMessage() int {
	if s.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return s.MaxMessage
}

func (s *Server) maxBatch() int {
	if s.MaxBatch <= 0 {
		return DefaultMaxBatch
	}
	return s.MaxBatch
}

func (s *Server) batchDelay() time.Duration {
	if s.BatchDelay <= 0 {
		return DefaultBatchDelay
	}
	return s.BatchDelay
}

func (s *Server) grace() time.Duration {
	if s.ShutdownGrace <= 0 {
		return DefaultShutdownGrace
	}
	return s.ShutdownGrace
}
