// Package intake is the HTTP NDJSON door shared by both ingestors: `POST /v1/events` with one
// event per line (gzip accepted). Each line is parsed, published as an adjoin.v1.Event, and the
// sender gets 2xx only after JetStream acknowledged every publish of the batch. A line that
// cannot be parsed is answered with its line number and reason, copied to DEADLETTER, and does
// not stop the rest of the batch.
package intake
