package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// credToolMimikatz matches mimikatz module::command pairs on a command line.
var credToolMimikatz = regexp.MustCompile(`(?i)\b(sekurlsa|lsadump|kerberos|privilege)::(\w+)`)

// credToolRubeusVerb matches a Rubeus command verb as a whole word.
var credToolRubeusVerb = regexp.MustCompile(`(?i)(?:^|[\s"'])(asktgt|asktgs|ptt|renew|s4u|kerberoast|asreproast|golden|silver|tgtdeleg|dump|triage|monitor|harvest)(?:$|[\s"'])`)

// credToolStrongVerb matches the Rubeus verbs distinctive enough to name Rubeus when it was
// renamed and the record carries no original file name (4688): followed by a /option.
var credToolStrongVerb = regexp.MustCompile(`(?i)(?:^|[\s"'])(asktgt|asreproast|kerberoast)\s+/\w+`)

var (
	credToolUser   = regexp.MustCompile(`(?i)/user:("[^"]+"|[^\s"']+)`)
	credToolDomain = regexp.MustCompile(`(?i)/domain:("[^"]+"|[^\s"']+)`)
	credToolHash   = regexp.MustCompile(`(?i)/(rc4|aes128|aes256|des|ntlm):`)
)

// credToolMimikatzTechniques maps "module::command" (lower case) to its ATT&CK technique;
// other commands of a module take the module's entry ("module::").
var credToolMimikatzTechniques = map[string]string{
	"sekurlsa::":       "T1003.001",
	"sekurlsa::pth":    "T1550.002",
	"lsadump::":        "T1003.001",
	"lsadump::dcsync":  "T1003.006",
	"lsadump::sam":     "T1003.002",
	"lsadump::secrets": "T1003.004",
	"lsadump::cache":   "T1003.005",
	"kerberos::golden": "T1558.001",
	"kerberos::silver": "T1558.002",
	"kerberos::ptt":    "T1550.003",
	"privilege::debug": "T1003.001",
}

// credToolRubeusTechniques maps Rubeus verbs to ATT&CK techniques.
var credToolRubeusTechniques = map[string]string{
	"asktgt": "T1550.003", "asktgs": "T1550.003", "ptt": "T1550.003", "renew": "T1550.003", "s4u": "T1550.003",
	"kerberoast": "T1558.003", "asreproast": "T1558.004",
	"golden": "T1558.001", "silver": "T1558.002",
	"tgtdeleg": "T1558", "dump": "T1558", "triage": "T1558", "monitor": "T1558", "harvest": "T1558",
}

// CredentialToolCommandLine raises an alert when a process is started (Sysmon 1 or Security
// 4688) with the command line of a known credential-theft tool: mimikatz module commands
// (sekurlsa::, lsadump::, kerberos::golden/ptt, privilege::debug) or the mimikatz binary
// itself, and Rubeus verbs (asktgt, ptt, kerberoast, asreproast, s4u, ...). An account named by
// /user: is the target. One alert per host, tool and command (Sysmon 1 and its 4688 twin,
// and a launcher passing the same command, fold together); a command that reads LSASS
// (T1003.001) also shares its alert, through Episodes, with the process's LSASS handle and
// dump file.
type CredentialToolCommandLine struct {
	// Episodes (may be nil) groups this alert with the other traces of the same dumper.
	Episodes *CredEpisodes
}

// NewCredentialToolCommandLine returns the detector; it has no thresholds.
func NewCredentialToolCommandLine() *CredentialToolCommandLine { return &CredentialToolCommandLine{} }

// Name implements detection.Detector.
func (d *CredentialToolCommandLine) Name() string { return "credential-tool-command-line" }

// Detect implements detection.Detector.
func (d *CredentialToolCommandLine) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	p, ok := credProcStartOf(ev)
	if !ok {
		return nil
	}
	tool, commands, techniques, at := credToolMatch(p)
	if tool == "" {
		return nil
	}
	// The key is the command from the first tool word on, so a launcher
	// (powershell -c "Rubeus.exe asktgt ...") and the tool's own record agree. A bare start
	// of the tool (interactive mimikatz) is keyed on its session and command line.
	tail := strings.Join(strings.Fields(strings.ToLower(strings.TrimRight(p.commandLine[at:], `"' `))), " ")
	if at == 0 {
		tail = strings.ToLower(p.commandLine) + "|" + credToolLogon(p.logonID)
	}
	phase := adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS
	if !slices.ContainsFunc(techniques, func(t string) bool { return !strings.HasPrefix(t, "T1550") }) {
		phase = adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_LATERAL_MOVEMENT // only ticket or hash use
	}
	what := tool
	if len(commands) > 0 {
		what = tool + " " + strings.Join(commands, ", ")
	}
	target := ""
	if m := credToolUser.FindStringSubmatch(p.commandLine); m != nil {
		target = strings.Trim(m[1], `"`)
		if dm := credToolDomain.FindStringSubmatch(p.commandLine); dm != nil && !strings.ContainsAny(target, `\@`) {
			target = strings.Trim(dm[1], `"`) + `\` + target
		}
	}
	desc := fmt.Sprintf("%s on %s, run by %s, ran %s", p.image, p.ev.GetHost(), credOr(p.user, "an unknown user"), what)
	if target != "" {
		desc += " for the account " + target
	}
	a := credAlert(p.ev, d.Name(), []string{tool, tail}, adjoinv1.Severity_SEVERITY_HIGH, phase, techniques,
		"Credential theft tool run: "+tool, desc+".")
	if slices.Contains(techniques, "T1003.001") {
		a.Id = p.episode(d.Episodes, a.GetId())
	}
	credAddEntity(a, p.actor())
	credAddEntity(a, detection.UserRef(target, adjoinv1.EntityRole_ENTITY_ROLE_TARGET))
	a.Evidence = []*adjoinv1.Evidence{p.evidence(fmt.Sprintf("%d %s: %s", p.ev.GetEventId(), detection.BaseName(p.image), what))}
	return []*adjoinv1.Alert{a}
}

// credToolMatch names the tool a process start runs, the commands seen, their techniques
// and where on the command line the first command starts (0 when only the binary matched).
func credToolMatch(p credProcStart) (tool string, commands, techniques []string, at int) {
	cl := p.commandLine
	add := func(cmd, technique string) {
		if !slices.Contains(commands, cmd) {
			commands = append(commands, cmd)
		}
		if !slices.Contains(techniques, technique) {
			techniques = append(techniques, technique)
		}
	}
	if ms := credToolMimikatz.FindAllStringSubmatchIndex(cl, -1); ms != nil {
		for _, m := range ms {
			cmd := strings.ToLower(cl[m[2]:m[5]])
			t, ok := credToolMimikatzTechniques[cmd]
			if !ok {
				if t, ok = credToolMimikatzTechniques[strings.ToLower(cl[m[2]:m[3]])+"::"]; !ok {
					continue // kerberos::list and the like read only the caller's own tickets
				}
			}
			if tool == "" {
				at = m[0]
			}
			tool = "mimikatz"
			add(cmd, t)
		}
		if tool != "" {
			return tool, commands, techniques, at
		}
	}
	rubeus := p.isImage("rubeus.exe") || strings.Contains(strings.ToLower(cl), "rubeus")
	if rubeus || credToolStrongVerb.MatchString(cl) {
		if m := credToolRubeusVerb.FindStringSubmatchIndex(cl); m != nil {
			verb := strings.ToLower(cl[m[2]:m[3]])
			add(verb, credToolRubeusTechniques[verb])
			if credToolHash.MatchString(cl) {
				add("/"+strings.ToLower(credToolHash.FindStringSubmatch(cl)[1]), "T1550.002") // over-pass-the-hash
			}
			if verb != "ptt" && strings.Contains(strings.ToLower(cl), "/ptt") {
				add("/ptt", "T1550.003")
			}
			return "rubeus", commands, techniques, m[2]
		}
	}
	if p.isImage("mimikatz.exe") || strings.Contains(strings.ToLower(cl), "invoke-mimikatz") {
		return "mimikatz", nil, []string{"T1003.001"}, 0
	}
	return "", nil, nil, 0
}

// credToolLogon formats a logon id as a number, so 4688's and Sysmon's paddings agree.
func credToolLogon(id string) string {
	return fmt.Sprint(credLogonNumber(id))
}
