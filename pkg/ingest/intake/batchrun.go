package intake

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/adjoin/adjoin/pkg/entity"
	"github.com/adjoin/adjoin/pkg/natsx"
)

// batchRun is one batch of input lines on their way to JetStream, shared by every door (HTTP
// bodies, syslog messages, tailed files). Events and dead-letter copies are waited for together
// once Flush of them are on their way and at the end, so that neither the memory of a request
// nor its share of the connection's async window grows with its body, however many of its
// lines are refused; only events count as duplicates (a resent batch's refused lines are
// deduplicated too, and are not events); only acknowledged work reaches the metrics.
type batchRun struct {
	ctx         context.Context
	h           *Handler
	format      string
	maxLine     int
	flush       int
	batch, dead *natsx.Batch
	counts      tally
	resp        Response
}

func (h *Handler) newRun(ctx context.Context, format string) *batchRun {
	r := &batchRun{ctx: ctx, h: h, format: format, maxLine: h.MaxLineBytes, flush: h.Flush,
		batch: natsx.NewBatchContext(ctx, h.JS), dead: natsx.NewBatchContext(ctx, h.JS), resp: Response{Rejected: []Rejected{}}}
	if r.maxLine <= 0 {
		r.maxLine = defaultMaxLine
	}
	if r.flush <= 0 {
		r.flush = 4096
	}
	return r
}

// wait waits for every publish queued so far.
func (r *batchRun) wait() error {
	ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	if _, err := r.dead.Wait(ctx); err != nil {
		return err
	}
	dups, err := r.batch.Wait(ctx)
	r.resp.Duplicates += dups
	if err == nil {
		r.counts.flush(r.h.Metrics, r.h.Service, time.Since(start))
	}
	return err
}

// add queues one line (number line of the batch): its event, or its dead-letter copy when it
// is refused. An error means the batch cannot be stored and must be resent.
func (r *batchRun) add(it lineItem, line int) error {
	if err := r.queue(it, line); err != nil {
		return err
	}
	if r.batch.Len()+r.dead.Len() >= r.flush {
		return r.wait()
	}
	return nil
}

// queue is add without the flush.
func (r *batchRun) queue(it lineItem, line int) error {
	if it.tooLong == 0 && len(it.raw) > r.maxLine {
		it.tooLong, it.raw = len(it.raw), it.raw[:min(headKept, len(it.raw))]
	}
	if it.tooLong > 0 {
		err := it.tooLongErr
		if err == nil {
			err = fmt.Errorf("%w: %d bytes, over the limit; first %d kept", errLineTooLong, it.tooLong, len(it.raw))
		}
		dl := natsx.DeadLetterMsg(r.h.Service, "too-long", it.raw, err.Error(), it.origin)
		// Only the head is kept, so what stands for the whole line joins it in the id.
		key := it.digest
		if key == "" {
			key = strconv.Itoa(it.tooLong) + "|" + string(it.raw)
		}
		dl.Header.Set(jetstream.MsgIDHeader, entity.HashID("dl", r.h.Service, "too-long", key))
		if dlErr := r.dead.Add(dl); dlErr != nil {
			return dlErr
		}
		r.reject(line, "too-long", err.Error())
		return nil
	}
	if len(bytes.TrimSpace(it.raw)) == 0 {
		return nil
	}
	parser := *r.h // a copy whose Parse is the line's own parser
	if it.parse != nil {
		parser.Parse = it.parse
	}
	evFormat, err := parser.publishLine(r.batch, r.dead, it.raw, r.format, it.origin)
	if errors.Is(err, ErrSkip) {
		r.counts.skip()
		r.resp.Skipped++
		return nil
	}
	if err != nil {
		var le *LineError
		if !errors.As(err, &le) {
			return err
		}
		r.reject(line, le.Reason, le.Err.Error())
		return nil
	}
	r.counts.accept(evFormat)
	r.resp.Accepted++
	return nil
}

// reject counts a refused line (its copy is queued) and lists it while the answer lists fewer
// than MaxRejectedListed.
func (r *batchRun) reject(line int, reason, errText string) {
	r.counts.reject(reason)
	r.resp.RejectedTotal++
	if r.resp.RejectedByReason == nil {
		r.resp.RejectedByReason = map[string]int{}
	}
	r.resp.RejectedByReason[reason]++
	if len(r.resp.Rejected) >= MaxRejectedListed {
		r.resp.RejectedTruncated = true
		return
	}
	r.resp.Rejected = append(r.resp.Rejected, Rejected{Line: line, Reason: reason, Error: natsx.Truncate(errText, maxErrorText)})
}

// logRejected logs one summary of the refused lines, if any, not one entry per line.
func (r *batchRun) logRejected(origin string) {
	if r.resp.RejectedTotal == 0 {
		return
	}
	r.h.Log.Info("rejected input lines", zap.Int("rejected", r.resp.RejectedTotal), zap.Any("by_reason", r.resp.RejectedByReason),
		zap.Int("accepted", r.resp.Accepted), zap.String("origin", origin))
}
