package chaos

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/adjoin/adjoin/pkg/ingest/intake"
)

// DistinctLines reads the non-empty lines of files, each line once, until n lines (0: all).
func DistinctLines(n int, files ...string) ([][]byte, error) {
	seen := map[string]bool{}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			l := bytes.TrimSpace(sc.Bytes())
			if len(l) == 0 || seen[string(l)] {
				continue
			}
			seen[string(l)] = true
			out = append(out, append([]byte(nil), l...))
			if n > 0 && len(out) == n {
				return out, nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(f), err)
		}
	}
	return out, nil
}

// EventMsgID is the Nats-Msg-Id the DESIGN contract gives an event read from line: computed
// here from its definition (hex of the first 16 bytes of SHA-256 over the line and a NUL), not
// with the ingestor's code.
func EventMsgID(line []byte) string {
	h := sha256.New()
	h.Write(line)
	h.Write([]byte{0})
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Post sends body to an intake URL and decodes the answer.
func Post(ctx context.Context, client *http.Client, url string, body []byte) (int, intake.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, intake.Response{}, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return 0, intake.Response{}, err
	}
	defer resp.Body.Close()
	var r intake.Response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return resp.StatusCode, r, fmt.Errorf("status %d, body not JSON: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, r, nil
}

// Sent is what a Sender got acknowledged.
type Sent struct {
	// Accepted are the lines of batches answered 200 that were not rejected.
	Accepted map[string]bool
	// Batches sent, and the attempts that were not answered 200 and were sent again.
	Batches, Retries int
	// RetriedAccepted counts the accepted lines of batches that needed more than one attempt;
	// Duplicates is what the ingestor reported as already stored when they were acknowledged.
	RetriedAccepted, Duplicates int
	// Rejected lines, by reason.
	Rejected map[string]int
}

// Sender posts lines in batches to an ingestor's POST /v1/events, sending again every batch
// not answered 200 (a 503, a timeout, a refused connection) until it is, as the intake
// contract asks of a sender.
type Sender struct {
	URL   string
	Batch int
	// Progress, when set, is called after each acknowledged batch with the number of batches
	// acknowledged so far.
	Progress func(done int)
	// GiveUp bounds the attempts at one batch.
	GiveUp time.Duration
	// Client, when set, sends the requests (an HTTPS intake's CA, a transport adding the
	// sender's token).
	Client *http.Client
}

// Send sends every line and returns what was acknowledged.
func (s *Sender) Send(ctx context.Context, lines [][]byte) (Sent, error) {
	out := Sent{Accepted: map[string]bool{}, Rejected: map[string]int{}}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: 90 * time.Second}
	}
	giveUp := s.GiveUp
	if giveUp == 0 {
		giveUp = 3 * time.Minute
	}
	for i := 0; i < len(lines); i += s.Batch {
		part := lines[i:min(i+s.Batch, len(lines))]
		body := append(bytes.Join(part, []byte{'\n'}), '\n')
		out.Batches++
		deadline := time.Now().Add(giveUp)
		for attempt := 0; ; attempt++ {
			code, r, err := Post(ctx, client, s.URL, body)
			if err == nil && code == http.StatusOK {
				rejected := map[int]bool{}
				for _, rj := range r.Rejected {
					rejected[rj.Line] = true
					out.Rejected[rj.Reason]++
				}
				for j, l := range part {
					if !rejected[j+1] {
						out.Accepted[string(l)] = true
						if attempt > 0 {
							out.RetriedAccepted++
						}
					}
				}
				if attempt > 0 {
					out.Duplicates += r.Duplicates
				}
				break
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return out, fmt.Errorf("batch at line %d not acknowledged after %d attempts: status %d, %v, %s", i, attempt+1, code, err, r.Error)
			}
			out.Retries++
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		if s.Progress != nil {
			s.Progress(out.Batches)
		}
	}
	return out, nil
}
