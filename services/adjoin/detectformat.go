package adjoin

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/ingest/intake"
	"github.com/adjoin/adjoin/pkg/ingest/sambaaudit"
)

// Bounds of the look at a file's start that decides how `adjoin detect` reads it.
const (
	detectSniffBytes = 64 << 10 // at most the reader's buffer
	detectSniffLines = 200
)

// detectDefaultSambaDC names a Samba DC whose log does not say its name and no --samba-dc is given.
const detectDefaultSambaDC = "samba-dc"

// sambaAuditTypes are the "type" values of Samba's JSON audit events.
var sambaAuditTypes = map[string]bool{"Authentication": true, "Authorization": true, "dsdbChange": true,
	"dsdbTransaction": true, "passwordChange": true, "groupChange": true, "replicatedUpdate": true}

// detectParser decides how one file is read and says why, for stderr. With --format samba, or
// when the format is not given and the first telling line of the file is a Samba log header
// ("[2026/11/28 09:54:03.092625,  0] ...") or a Samba JSON audit event, the file is a Samba AD
// DC's log; the first JSON line of any other shape makes it Windows or Zeek events, read line
// by line (intake.ParseAny). Only the first detectSniffBytes / detectSniffLines are looked at,
// without consuming them.
func detectParser(br *bufio.Reader, format, sambaDC string) (intake.Parser, string) {
	head, _ := br.Peek(detectSniffBytes)
	lines := detectSniffed(head, len(head) < detectSniffBytes)
	samba := func(why string) (intake.Parser, string) {
		dc, named := sambaDC, "--samba-dc"
		if dc == "" {
			dc, named = detectSambaName(lines), "the name Samba gives itself in simple binds"
			if dc == "" {
				dc, named = detectDefaultSambaDC, "no --samba-dc given and the log does not say"
			}
		}
		return intake.ParseSamba(dc), fmt.Sprintf("Samba AD DC log (%s); the DC is %q (%s)", why, dc, named)
	}
	switch {
	case format == intake.SambaFormat:
		return samba("--format samba")
	case format != "":
		return intake.ParseAny, "--format " + format
	}
	for i, line := range lines {
		kind, ev, err := sambaaudit.Parse(line)
		switch {
		case kind == sambaaudit.Header:
			return samba(fmt.Sprintf("line %d is a Samba log header", i+1))
		case kind == sambaaudit.AuditEvent && err == nil && sambaAuditTypes[ev.Type]:
			return samba(fmt.Sprintf("line %d is a Samba %s audit event", i+1, ev.Type))
		case len(bytes.TrimSpace(line)) > 0 && bytes.TrimSpace(line)[0] == '{':
			return intake.ParseAny, fmt.Sprintf("Windows or Zeek events, each line by its shape (line %d is a JSON event, not Samba's)", i+1)
		}
	}
	return intake.ParseAny, fmt.Sprintf("Windows or Zeek events, each line by its shape (no Samba log header or audit event in the first %d lines)", len(lines))
}

// detectSniffed splits the start of a file into its first lines; a last line cut by the
// window is left out unless the window holds the whole file.
func detectSniffed(head []byte, whole bool) [][]byte {
	var out [][]byte
	for len(head) > 0 && len(out) < detectSniffLines {
		i := bytes.IndexByte(head, '\n')
		if i < 0 {
			if whole {
				out = append(out, trimEOL(head))
			}
			break
		}
		out = append(out, trimEOL(head[:i]))
		head = head[i+1:]
	}
	return out
}

// detectSambaName is the DC's own name as its log shows it: Samba writes its NetBIOS name as
// the workstation of an LDAP simple bind. "" when no simple bind is in the lines.
func detectSambaName(lines [][]byte) string {
	for _, line := range lines {
		kind, ev, err := sambaaudit.Parse(line)
		if kind != sambaaudit.AuditEvent || err != nil || ev.Type != "Authentication" {
			continue
		}
		desc, _ := ev.Body["authDescription"].(string)
		ws, _ := ev.Body["workstation"].(string)
		if strings.HasPrefix(desc, "simple bind") && ws != "" {
			return strings.ToLower(ws)
		}
	}
	return ""
}
