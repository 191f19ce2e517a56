package directory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A snapshot is stored as parts of at most snapshotPartSize bytes, objects
// "directory.<generation>.<n>", and a manifest, object "directory", naming them in order. The
// object store publishes an object's chunks without waiting for their acknowledgements until
// its end: one object of hundreds of megabytes overruns the server's ingest queue ("429 too
// many requests"), parts of a few megabytes do not. A new snapshot writes its parts, then
// replaces the manifest, then deletes the previous snapshot's parts, so a reader sees one
// snapshot or the other (or, when its parts go while it reads, fails and loads in full).
const manifestMagic = "ADJDIRM1"

// snapshotPartSize is the size of a part; a variable so that a test can cut a small
// snapshot into several.
var snapshotPartSize = 8 << 20

// partWriter cuts what is written to it into parts and stores each one.
type partWriter struct {
	ctx   context.Context
	store jetstream.ObjectStore
	gen   string
	buf   bytes.Buffer
	parts []string // "name size"
	size  uint64
}

func (p *partWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		room := snapshotPartSize - p.buf.Len()
		take := min(room, len(b))
		p.buf.Write(b[:take])
		b = b[take:]
		if p.buf.Len() == snapshotPartSize {
			if err := p.flush(); err != nil {
				return n - len(b), err
			}
		}
	}
	return n, nil
}

// flush stores the part being written.
func (p *partWriter) flush() error {
	if p.buf.Len() == 0 {
		return nil
	}
	name := fmt.Sprintf("%s.%s.%d", snapshotObject, p.gen, len(p.parts))
	if _, err := p.store.PutBytes(p.ctx, name, p.buf.Bytes()); err != nil {
		return fmt.Errorf("part %s: %w", name, err)
	}
	p.parts = append(p.parts, name+" "+strconv.Itoa(p.buf.Len()))
	p.size += uint64(p.buf.Len())
	p.buf.Reset()
	return nil
}

// commit stores the last part and the manifest naming every part, then deletes the parts of
// the snapshot it replaced.
func (p *partWriter) commit() error {
	if err := p.flush(); err != nil {
		return err
	}
	old, _ := readManifest(p.ctx, p.store)
	manifest := manifestMagic + "\n" + strings.Join(p.parts, "\n") + "\n"
	if _, err := p.store.PutString(p.ctx, snapshotObject, manifest); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	for _, part := range old.parts {
		if err := p.store.Delete(p.ctx, part); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return fmt.Errorf("deleting part %s of the previous snapshot: %w", part, err)
		}
	}
	return nil
}

// abort deletes the parts written so far.
func (p *partWriter) abort() {
	ctx := context.WithoutCancel(p.ctx)
	for _, part := range p.parts {
		name, _, _ := strings.Cut(part, " ")
		p.store.Delete(ctx, name) //nolint:errcheck // a part left behind is only storage
	}
}

func newPartWriter(ctx context.Context, store jetstream.ObjectStore) *partWriter {
	return &partWriter{ctx: ctx, store: store, gen: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// manifest is a snapshot's list of parts.
type manifest struct {
	parts   []string
	size    uint64
	modTime time.Time
}

// readManifest reads the manifest; jetstream.ErrObjectNotFound when there is no snapshot.
func readManifest(ctx context.Context, store jetstream.ObjectStore) (manifest, error) {
	info, err := store.GetInfo(ctx, snapshotObject)
	if err != nil {
		return manifest{}, err
	}
	if info.Size > 1<<20 {
		return manifest{}, fmt.Errorf("%w: manifest of %d bytes", errSnapshot, info.Size)
	}
	b, err := store.GetBytes(ctx, snapshotObject)
	if err != nil {
		return manifest{}, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if lines[0] != manifestMagic {
		return manifest{}, fmt.Errorf("%w: unknown manifest format %.16q", errSnapshot, lines[0])
	}
	m := manifest{modTime: info.ModTime}
	for _, l := range lines[1:] {
		name, size, ok := strings.Cut(l, " ")
		n, err := strconv.ParseUint(size, 10, 64)
		if !ok || err != nil || !strings.HasPrefix(name, snapshotObject+".") {
			return manifest{}, fmt.Errorf("%w: manifest line %q", errSnapshot, l)
		}
		m.parts = append(m.parts, name)
		m.size += n
	}
	return m, nil
}

// partsReader reads a snapshot's parts one after the other.
type partsReader struct {
	ctx   context.Context
	store jetstream.ObjectStore
	parts []string
	cur   jetstream.ObjectResult
}

func (r *partsReader) Read(b []byte) (int, error) {
	for {
		if r.cur == nil {
			if len(r.parts) == 0 {
				return 0, io.EOF
			}
			res, err := r.store.Get(r.ctx, r.parts[0])
			if err != nil {
				return 0, fmt.Errorf("part %s: %w", r.parts[0], err)
			}
			r.cur, r.parts = res, r.parts[1:]
		}
		n, err := r.cur.Read(b)
		if errors.Is(err, io.EOF) {
			r.cur.Close() //nolint:errcheck // read-only
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (r *partsReader) Close() error {
	if r.cur != nil {
		return r.cur.Close()
	}
	return nil
}
