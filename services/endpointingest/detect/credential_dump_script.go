package detect

import (
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// credScriptTerms are lower-case fragments of PowerShell that dump credentials, and whether
// each is enough alone. MiniDumpWriteDump (P/Invoked by Out-Minidump and its copies) dumps any
// process: it is high with "lsass" in the same block, medium otherwise.
var credScriptTerms = []struct {
	term   string
	strong bool
}{
	{"invoke-mimikatz", true},
	{"sekurlsa::", true},
	{"lsadump::", true},
	{"out-minidump", false},
	{"minidumpwritedump", false},
}

// CredentialDumpScript raises an alert on a PowerShell script block (PowerShell/Operational
// 4104, ScriptBlockText, or the rendered message when only that was kept) that dumps
// credentials: Invoke-Mimikatz, mimikatz sekurlsa:: and lsadump:: commands, or a call of
// MiniDumpWriteDump (Out-Minidump). Script block logging sees what fileless tools run
// in-process, where no command line shows it. The parts of one long block and the blocks a
// host logs within Episodes' window are one alert, which also joins a PowerShell process's
// LSASS handle (lsass-access) on the same host in that window.
type CredentialDumpScript struct {
	// Episodes (may be nil) groups this alert with the other traces of the same theft.
	Episodes *CredEpisodes
}

// NewCredentialDumpScript returns the detector; it has no thresholds.
func NewCredentialDumpScript() *CredentialDumpScript { return &CredentialDumpScript{} }

// Name implements detection.Detector.
func (d *CredentialDumpScript) Name() string { return "credential-dump-script" }

// Detect implements detection.Detector.
func (d *CredentialDumpScript) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	if ev.GetEventId() != 4104 || !strings.Contains(strings.ToLower(ev.GetChannel()), "powershell") {
		return nil
	}
	f := ev.GetFields()
	text := f["ScriptBlockText"]
	if text == "" {
		text = f["Message"]
	}
	l := strings.ToLower(text)
	var found []string
	strong := false
	for _, t := range credScriptTerms {
		if strings.Contains(l, t.term) {
			found = append(found, t.term)
			strong = strong || t.strong
		}
	}
	if len(found) == 0 {
		return nil
	}
	severity := adjoinv1.Severity_SEVERITY_HIGH
	if !strong && !strings.Contains(l, "lsass") {
		severity = adjoinv1.Severity_SEVERITY_MEDIUM
	}
	block := entity.Fold(f["ScriptBlockId"])
	if block == "" {
		block = credScriptBlockID(text)
	}
	a := credAlert(ev, d.Name(), []string{block}, severity, adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS,
		[]string{"T1003.001", "T1059.001"}, "Credential dumping: PowerShell script block dumps LSASS",
		fmt.Sprintf("A PowerShell script block on %s runs %s.", ev.GetHost(), strings.Join(found, ", ")))
	script := credImageKey(ev.GetHost(), "4104-script-blocks")
	a.Id = d.Episodes.Claim(credKeys(script, credImageKey(ev.GetHost(), "powershell.exe"), credImageKey(ev.GetHost(), "pwsh.exe")),
		credKeys(script), detection.TraceOf(ev), a.GetId())
	fields := detection.Pick(f, "ScriptBlockId", "MessageNumber", "MessageTotal", "Path")
	fields["Terms"] = strings.Join(found, ",")
	a.Evidence = []*adjoinv1.Evidence{credEvidence(ev, "windows-event", fmt.Sprintf("4104 script block %s: %s", credOr(block, "?"), strings.Join(found, ", ")), fields)}
	return []*adjoinv1.Alert{a}
}

// credScriptBlockID reads "ScriptBlock ID: <guid>" from a rendered 4104 message.
func credScriptBlockID(msg string) string {
	const label = "ScriptBlock ID:"
	i := strings.LastIndex(msg, label)
	if i < 0 {
		return ""
	}
	rest := strings.TrimSpace(msg[i+len(label):])
	if j := strings.IndexAny(rest, " \r\n"); j >= 0 {
		rest = rest[:j]
	}
	return entity.Fold(rest)
}
