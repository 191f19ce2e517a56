package detect

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// encodedPowerShellArg matches a PowerShell option (dash, slash or the Unicode dashes
// PowerShell also accepts) followed by a base64 argument, quoted or not.
var encodedPowerShellArg = regexp.MustCompile(`(?i)(?:^|\s)(?:-|/|\x{2013}|\x{2014}|\x{2015})([a-z]+)\s+["']?([a-z0-9+/]{8,}={0,2})["']?(?:\s|$)`)

// encodedPowerShellHost matches the PowerShell hosts on a command line, for launchers
// (cmd /c powershell -enc ..., a service ImagePath) whose own image is not PowerShell.
var encodedPowerShellHost = regexp.MustCompile(`(?i)\b(powershell|pwsh)(\.exe)?\b`)

// EncodedPowerShell raises an alert when PowerShell is started with -EncodedCommand (or any
// prefix of it PowerShell accepts: -e, -en, -enc, ..., and -ec) and a base64 script: in a
// process creation (Sysmon 1, Security 4688), or in a service's command (System 7045
// ImagePath, Security 4697 ServiceFileName), as Empire's launchers and PsExec-style stagers
// do. The decoded script (UTF-16LE) opens the evidence. One alert per host and payload: the
// service, the cmd.exe that starts PowerShell and PowerShell itself share the payload.
type EncodedPowerShell struct {
	// MinPayload is the shortest base64 argument taken for a script, in characters.
	// Default 16: shorter ones are not scripts worth hiding (and risk matching other
	// options' values).
	MinPayload int
	// DecodedPrefix is how many decoded characters go in the evidence. Default 200.
	DecodedPrefix int
}

// NewEncodedPowerShell returns the detector with its defaults.
func NewEncodedPowerShell() *EncodedPowerShell {
	return &EncodedPowerShell{MinPayload: 16, DecodedPrefix: 200}
}

// Name implements detection.Detector.
func (d *EncodedPowerShell) Name() string { return "encoded-powershell" }

// Detect implements detection.Detector.
func (d *EncodedPowerShell) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if p, ok := credProcStartOf(ev); ok {
		payload, decoded := d.encoded(p.commandLine, p.isImage("powershell.exe", "pwsh.exe", "pwsh.dll"))
		if payload == "" {
			return nil
		}
		a := d.alert(ev, payload, fmt.Sprintf("%s on %s, run by %s (parent %s), ran encoded PowerShell: %s",
			p.image, ev.GetHost(), credOr(p.user, "an unknown user"), credOr(p.parentImage, "unknown"), encodedPowerShellShort(decoded)))
		credAddEntity(a, p.actor())
		e := p.evidence(fmt.Sprintf("%d %s -EncodedCommand (%d base64 chars)", ev.GetEventId(), detection.BaseName(p.image), len(payload)))
		e.Fields["DecodedCommand"] = encodedPowerShellPrefix(decoded, d.DecodedPrefix)
		a.Evidence = []*adjoinv1.Evidence{e}
		return []*adjoinv1.Alert{a}
	}
	f := ev.GetFields()
	var command, kind string
	switch {
	case ev.GetEventId() == 7045 && strings.EqualFold(ev.GetChannel(), "System"):
		command, kind = f["ImagePath"], "windows-event"
	case ev.GetEventId() == 4697 && detection.IsSecurity(ev):
		command, kind = f["ServiceFileName"], "windows-event"
	default:
		return nil
	}
	payload, decoded := d.encoded(command, false)
	if payload == "" {
		return nil
	}
	// 7045's AccountName is the account NXLog logged it under, not the installer: no actor.
	a := d.alert(ev, payload, fmt.Sprintf("Service %s installed on %s runs encoded PowerShell: %s",
		f["ServiceName"], ev.GetHost(), encodedPowerShellShort(decoded)))
	if ev.GetEventId() == 4697 && !credProcSystemSession(f["SubjectLogonId"]) {
		credAddEntity(a, detection.UserRef(f["SubjectDomainName"]+`\`+f["SubjectUserName"], adjoinv1.EntityRole_ENTITY_ROLE_ACTOR))
	}
	fields := detection.Pick(f, "ServiceName", "ImagePath", "ServiceFileName", "ServiceType", "StartType", "ServiceStartType",
		"SubjectUserName", "SubjectDomainName", "SubjectLogonId")
	fields["DecodedCommand"] = encodedPowerShellPrefix(decoded, d.DecodedPrefix)
	a.Evidence = []*adjoinv1.Evidence{credEvidence(ev, kind, fmt.Sprintf("%d service %s: powershell -EncodedCommand", ev.GetEventId(), f["ServiceName"]), fields)}
	return []*adjoinv1.Alert{a}
}

// encoded returns the base64 argument of -EncodedCommand on a PowerShell command line and
// its decoded text, or "". A command line that is not PowerShell's own (isPS false) must name
// powershell or pwsh before the option.
func (d *EncodedPowerShell) encoded(cl string, isPS bool) (payload, decoded string) {
	start := 0
	if !isPS {
		loc := encodedPowerShellHost.FindStringIndex(cl)
		if loc == nil {
			return "", ""
		}
		start = loc[1]
	}
	for _, m := range encodedPowerShellArg.FindAllStringSubmatch(cl[start:], -1) {
		flag, arg := strings.ToLower(m[1]), m[2]
		if flag != "ec" && !strings.HasPrefix("encodedcommand", flag) || len(arg) < d.MinPayload {
			continue
		}
		if text, ok := encodedPowerShellDecode(arg); ok {
			return arg, text
		}
	}
	return "", ""
}

// encodedPowerShellDecode decodes base64 UTF-16LE text, as -EncodedCommand expects.
func encodedPowerShellDecode(s string) (string, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return "", false
		}
	}
	if len(b) < 2 {
		return "", false
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	text := string(utf16.Decode(u))
	return text, utf8.ValidString(text)
}

func (d *EncodedPowerShell) alert(ev *adjoinv1.Event, payload, description string) *adjoinv1.Alert {
	return credAlert(ev, d.Name(), []string{payload}, adjoinv1.Severity_SEVERITY_MEDIUM,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_EXECUTION, []string{"T1059.001"},
		"Encoded PowerShell command", description+".")
}

// encodedPowerShellPrefix returns the first n characters of s.
func encodedPowerShellPrefix(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[:n]
	}
	return string(r)
}

// encodedPowerShellShort is the start of a decoded script for a description line.
func encodedPowerShellShort(s string) string {
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}
