package adjoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// runIngest replays files through the same path as the ingestor's HTTP intake: every line is
// parsed, stored on the side's event stream (acknowledged by JetStream), and the running
// ingestor's detectors raise alerts from there. It shows progress (lines, events/s, alerts so
// far) on stderr and a summary at the end. With --url it posts to the ingestor's HTTP intake
// instead, as a sender does (HTTPS, a sender token), for an operator who cannot reach NATS.
func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "dc" && args[0] != "endpoint") {
		return errors.New("usage: adjoin ingest dc|endpoint [flags] FILE... (see --help)")
	}
	side := args[0]
	var conn natsx.ConnectOptions
	var format, sambaDC string
	var intakeURL, token, tokenFile, caFile, certFile, keyFile string
	var quiet bool
	var connectTimeout time.Duration
	s := commandSet("ingest")
	s.Duration(&connectTimeout, "connect-timeout", 5*time.Second, "how long to try reaching NATS")
	conn.Flags(s)
	s.String(&format, "format", "", "input shape: nxlog, powershell, evtx, ecs, zeek, or samba (a Samba AD DC log, dc only; default: detected per line)")
	s.String(&sambaDC, "samba-dc", "", "with --format samba: host name of the DC that wrote the log (the log does not name it)")
	s.Bool(&quiet, "quiet", false, "no progress line")
	s.String(&intakeURL, "url", "", "post to this ingestor's HTTP intake (e.g. https://dcingest:8081) instead of publishing to NATS")
	s.String(&tokenFile, "token-file", "", "with --url: file holding this sender's bearer token (adjoin secrets: intake-<sender>.token)")
	s.String(&token, "token", "", "with --url: the sender's bearer token itself (prefer --token-file or ADJOIN_INTAKE_TOKEN: flags show in process lists)")
	s.String(&caFile, "tls-ca", "", "with --url: CA (PEM) of the intake's certificate")
	s.String(&certFile, "tls-cert", "", "with --url: client certificate (PEM), when the intake asks for one (mTLS)")
	s.String(&keyFile, "tls-key", "", "with --url: client key (PEM)")
	s.Env("token", "ADJOIN_INTAKE_TOKEN") // ADJOIN_TOKEN is a badge service token in the other commands
	s.Env("tls-cert", clientCertEnv)
	s.Env("tls-key", clientKeyEnv)
	if done, err := parse(s, args[1:], stdout); done || err != nil {
		return err
	}
	if len(s.Args()) == 0 {
		return errors.New("usage: adjoin ingest dc|endpoint [flags] FILE... (see --help)")
	}
	parse := intake.ParseAny
	switch {
	case format == intake.SambaFormat && (side != "dc" || sambaDC == ""):
		return errors.New("format samba: only with ingest dc, and --samba-dc must name the DC that wrote the log")
	case format == intake.SambaFormat:
		parse = intake.ParseSamba(sambaDC)
	case sambaDC != "":
		return errors.New("samba-dc: only with --format samba")
	}
	if intakeURL != "" {
		poster, err := newIntakePoster(intakeURL, format, sambaDC, token, tokenFile, caFile, certFile, keyFile)
		if err != nil {
			return err
		}
		return postFiles(ctx, poster, s.Args(), quiet, stderr)
	}
	if token != "" || tokenFile != "" || caFile != "" {
		return errors.New("token, token-file, tls-ca: only with --url (the intake); NATS has its own --nats-* settings")
	}
	if err := conn.Validate(); err != nil {
		return err
	}
	service, prefix, alertSubjects := "dcingest", natsx.SubjectDCEvents, natsx.SubjectIdentityAlerts+".>"
	if side == "endpoint" {
		service, prefix, alertSubjects = "endpointingest", natsx.SubjectEndpointEvents, natsx.SubjectEndpointAlerts+".>"
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn.Name = "adjoin-ingest"
	nc, err := natsx.Connect(cctx, conn, zap.NewNop())
	cancel()
	if err != nil {
		return fmt.Errorf("nats-url %s: %w (is the stack running?)", conn.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	alertsBefore, _ := countSubjects(ctx, js, natsx.StreamAlerts, alertSubjects)
	// Files and replays have no line bound (MaxLines is for HTTP bodies); the clock skew is the
	// intake's default, as the services' own.
	h := &intake.Handler{JS: js, Service: service, Parse: parse, Log: zap.NewNop(), MaxClockSkew: intake.DefaultServiceConfig("").MaxClockSkew,
		Subject: func(ev *adjoinv1.Event) string { return intake.EventSubject(prefix, ev) }}

	var lines atomic.Int64
	start := time.Now()
	stop := everyHalfSecond(func() {
		if !quiet {
			alerts, _ := countSubjects(ctx, js, natsx.StreamAlerts, alertSubjects)
			n := lines.Load()
			fmt.Fprintf(stderr, "\r%d lines, %.0f events/s, %d alerts so far   ", n,
				float64(n)/time.Since(start).Seconds(), alerts-alertsBefore)
		}
	})
	var total intake.Response
	for _, name := range s.Args() {
		f, err := os.Open(name)
		if err != nil {
			stop()
			return err
		}
		resp, err := h.Ingest(ctx, &lineCounter{r: f, n: &lines}, format, "file:"+name)
		f.Close()
		total.Accepted += resp.Accepted
		total.Duplicates += resp.Duplicates
		total.Skipped += resp.Skipped
		total.RejectedTotal += resp.RejectedTotal // resp.Rejected lists the first 100 only
		for _, r := range resp.Rejected {
			if len(total.Rejected) < 20 {
				fmt.Fprintf(stderr, "\n%s:%d: %s: %s", name, r.Line, r.Reason, r.Error)
			}
			total.Rejected = append(total.Rejected, r)
		}
		if err != nil {
			stop()
			return fmt.Errorf("%s: %w (lines before the error are stored; resending is safe)", name, err)
		}
	}
	stop()
	took := time.Since(start)
	// Give the ingestor's detectors a moment to turn the last events into alerts.
	time.Sleep(time.Second)
	alerts, _ := countSubjects(ctx, js, natsx.StreamAlerts, alertSubjects)
	skipped := ""
	if total.Skipped > 0 {
		skipped = fmt.Sprintf(", %d lines without an event skipped", total.Skipped)
	}
	fmt.Fprintf(stderr, "\ningested %d events (%d already stored, %d lines refused%s) in %s, %.0f events/s; %d new alerts so far\n",
		total.Accepted, total.Duplicates, total.RejectedTotal, skipped, took.Round(time.Millisecond),
		float64(total.Accepted)/max(took.Seconds(), 1e-9), alerts-alertsBefore)
	return nil
}

// lineCounter counts the lines read through it.
type lineCounter struct {
	r io.Reader
	n *atomic.Int64
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}

func countSubjects(ctx context.Context, js jetstream.JetStream, stream, filter string) (uint64, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n, nil
}
