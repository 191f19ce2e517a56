package authn

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"
)

// Tokens is an immutable set of bearer tokens, each with the name it stands for: a sender of
// the intake, or a role of the badge service.
type Tokens struct {
	entries []entry
}

type entry struct {
	name  string
	token []byte
}

// Lookup returns the name of token. Every known token is compared in constant time, and all of
// them are compared, so the time taken says nothing about which token came close.
func (t *Tokens) Lookup(token string) (string, bool) {
	if t == nil || token == "" {
		return "", false
	}
	found := -1
	for i, e := range t.entries {
		if subtle.ConstantTimeCompare(e.token, []byte(token)) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return t.entries[found].name, true
}

// Len is the number of tokens.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Names lists the distinct names, in file order, for the log line that says who may send.
func (t *Tokens) Names() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range t.entries {
		if !seen[e.name] {
			seen[e.name] = true
			out = append(out, e.name)
		}
	}
	return out
}

// NameCheck says whether the first field of a tokens file line is acceptable; nil on success.
type NameCheck func(name string) error

// ParseTokens reads "<name> <token>" lines; blank lines and lines starting with # are skipped.
// A name may have several tokens (a rotation in progress); a token may not be given twice.
// source names the file in errors. An empty set is an error: a tokens file that lets nobody in
// is a mistake, not a configuration.
func ParseTokens(r io.Reader, source string, check NameCheck) (*Tokens, error) {
	t := &Tokens{}
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, token, ok := strings.Cut(text, " ")
		token = strings.TrimSpace(token)
		if !ok || token == "" || strings.ContainsAny(token, " \t") {
			return nil, fmt.Errorf(`tokens-file %s line %d: want "<name> <token>"`, source, line)
		}
		if check != nil {
			if err := check(name); err != nil {
				return nil, fmt.Errorf("tokens-file %s line %d: %w", source, line, err)
			}
		}
		if first, dup := seen[token]; dup {
			return nil, fmt.Errorf("tokens-file %s line %d: the token of line %d again; every token must be unique", source, line, first)
		}
		seen[token] = line
		t.entries = append(t.entries, entry{name: name, token: []byte(token)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens-file %s: %w", source, err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("tokens-file %s: no tokens", source)
	}
	return t, nil
}

// ReadTokens reads a tokens file.
func ReadTokens(path string, check NameCheck) (*Tokens, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens-file: %w", err)
	}
	return ParseTokens(bytes.NewReader(b), path, check)
}

// SenderName accepts the names of intake senders: 1 to 64 letters, digits, '.', '_' or '-',
// since the name goes into logs and every event's origin.
func SenderName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return fmt.Errorf("sender name %q: want 1 to 64 characters", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("sender name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// Digest names a token where it may be shown (logs, the record of who toggled the integration)
// without giving it away: 16 characters of its SHA-256.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}
