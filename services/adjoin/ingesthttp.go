package adjoin

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

// intakePoster posts files to a running ingestor's HTTP intake (POST /v1/events), the way a
// sender does: over HTTPS with a sender token when the intake asks for one. It is the path of
// `adjoin ingest --url`, for an operator who reaches the intake but not NATS.
type intakePoster struct {
	endpoint string // .../v1/events?format=...
	token    string
	client   *http.Client
	batch    int // lines per request
	// maxLine bounds what one line may hold in memory here: no intake takes a longer one
	// in a request (256 MiB is its default --max-body-bytes), and a file without newlines (a
	// binary given by mistake) would otherwise be read whole.
	maxLine int
}

// maxPostLine is intakePoster.maxLine: the intake's default bound of a request body.
const maxPostLine = 256 << 20

// newIntakePoster checks the settings of `adjoin ingest --url`.
func newIntakePoster(base, format, sambaDC, token, tokenFile, caFile, certFile, keyFile string) (*intakePoster, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http(s)://HOST:PORT of an ingestor", base)
	}
	if tokenFile != "" {
		if token != "" {
			return nil, errors.New("token and token-file: give one")
		}
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("token-file: %w", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return nil, fmt.Errorf("token-file %s: empty", tokenFile)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		if transport.TLSClientConfig, err = authn.ClientTLS(caFile, certFile, keyFile); err != nil {
			return nil, err
		}
	}
	if token != "" && u.Scheme != "https" && !authn.Loopback(net.JoinHostPort(u.Hostname(), "0")) {
		return nil, fmt.Errorf("url %s: a token is sent in clear text over http; use https (and --tls-ca)", base)
	}
	u.Path += "/v1/events"
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	if sambaDC != "" {
		q.Set("host", sambaDC)
	}
	u.RawQuery = q.Encode()
	return &intakePoster{endpoint: u.String(), token: token, client: &http.Client{Transport: transport, Timeout: 2 * time.Minute}, batch: 1000,
		maxLine: maxPostLine}, nil
}

// post sends r in batches of lines, each answered before the next is sent; a batch answered
// 503 (or not at all) is sent again, a few times, since resending is safe. Rejected lines are
// numbered from the start of r.
func (p *intakePoster) post(ctx context.Context, r io.Reader, lines *atomic.Int64) (intake.Response, error) {
	var total intake.Response
	br := bufio.NewReaderSize(r, 64<<10)
	var buf bytes.Buffer
	first, n := 1, 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		resp, err := p.send(ctx, buf.Bytes())
		total.Accepted += resp.Accepted
		total.Duplicates += resp.Duplicates
		total.Skipped += resp.Skipped
		// Each answer lists its first MaxRejectedListed refused lines and counts them all;
		// the file's total keeps as many, not a share of every batch, however long r is.
		total.RejectedTotal += resp.RejectedTotal
		for _, rj := range resp.Rejected {
			if len(total.Rejected) >= intake.MaxRejectedListed {
				total.RejectedTruncated = true
				break
			}
			rj.Line += first - 1
			total.Rejected = append(total.Rejected, rj)
		}
		if err != nil {
			return fmt.Errorf("lines %d to %d: %w", first, first+n-1, err)
		}
		lines.Add(int64(n))
		first, n = first+n, 0
		buf.Reset()
		return nil
	}
	for {
		// The line is read into buf a buffer at a time, so that one over maxLine is refused
		// before it is all in memory.
		start := buf.Len()
		var err error
		for {
			var chunk []byte
			chunk, err = br.ReadSlice('\n')
			buf.Write(chunk)
			if buf.Len()-start > p.maxLine+1 { // +1: its newline
				line := first + n
				buf.Truncate(start)
				if ferr := flush(); ferr != nil {
					return total, ferr
				}
				return total, fmt.Errorf("line %d: longer than %d bytes, more than the intake takes in one request (is this a log file?)",
					line, p.maxLine)
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			// The line being read is incomplete: leave it out, send the lines before it.
			buf.Truncate(start)
			if ferr := flush(); ferr != nil {
				return total, ferr
			}
			return total, fmt.Errorf("line %d: %w", first+n, err)
		}
		if buf.Len() > start {
			if buf.Bytes()[buf.Len()-1] != '\n' {
				buf.WriteByte('\n')
			}
			if n++; n == p.batch || buf.Len() >= 8<<20 {
				if ferr := flush(); ferr != nil {
					return total, ferr
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return total, flush()
		}
	}
}

// send posts one batch; 200 and 422 (every line refused) are answers, anything else an error,
// after retries for 503 and transport errors.
func (p *intakePoster) send(ctx context.Context, body []byte) (intake.Response, error) {
	wait := time.Second
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(body))
		if err != nil {
			return intake.Response{}, err
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if p.token != "" {
			req.Header.Set("Authorization", "Bearer "+p.token)
		}
		var r intake.Response
		resp, err := p.client.Do(req)
		if err == nil {
			derr := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&r)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnprocessableEntity:
				return r, derr
			case resp.StatusCode == http.StatusUnauthorized:
				return r, fmt.Errorf("the intake refused this sender (401: %s): see --token-file and --tls-ca", r.Error)
			case resp.StatusCode != http.StatusServiceUnavailable:
				return r, fmt.Errorf("the intake answered %s: %s", resp.Status, r.Error)
			}
			err = fmt.Errorf("the intake answered %s: %s", resp.Status, r.Error)
		}
		var badCert *tls.CertificateVerificationError
		if errors.As(err, &badCert) { // no retry mends a certificate
			return intake.Response{}, fmt.Errorf("%w (see --tls-ca)", err)
		}
		if attempt == 5 || ctx.Err() != nil {
			return intake.Response{}, fmt.Errorf("not stored after %d attempts: %w", attempt, err)
		}
		select {
		case <-ctx.Done():
			return intake.Response{}, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// postFiles posts every file through p, with a progress line, and prints the summary.
func postFiles(ctx context.Context, p *intakePoster, files []string, quiet bool, stderr io.Writer) error {
	var lines atomic.Int64
	start := time.Now()
	stop := everyHalfSecond(func() {
		if !quiet {
			n := lines.Load()
			fmt.Fprintf(stderr, "\r%d lines, %.0f lines/s   ", n, float64(n)/time.Since(start).Seconds())
		}
	})
	var total intake.Response
	var listed int // refused lines printed, the first 20
	var err error
	for _, name := range files {
		var f *os.File
		if f, err = os.Open(name); err != nil {
			break
		}
		var resp intake.Response
		resp, err = p.post(ctx, f, &lines)
		f.Close()
		total.Accepted += resp.Accepted
		total.Duplicates += resp.Duplicates
		total.Skipped += resp.Skipped
		total.RejectedTotal += resp.RejectedTotal // resp.Rejected lists the first ones only
		for _, r := range resp.Rejected {
			if listed < 20 {
				fmt.Fprintf(stderr, "\n%s:%d: %s: %s", name, r.Line, r.Reason, r.Error)
				listed++
			}
		}
		if err != nil {
			err = fmt.Errorf("%s: %w (lines before the error are stored; resending is safe)", name, err)
			break
		}
	}
	stop()
	if err != nil {
		fmt.Fprintln(stderr)
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stderr, "\nposted %d events (%d already stored, %d lines refused, %d skipped) in %s\n",
		total.Accepted, total.Duplicates, total.RejectedTotal, total.Skipped, took.Round(time.Millisecond))
	return nil
}
