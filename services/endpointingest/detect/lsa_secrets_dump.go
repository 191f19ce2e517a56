package detect

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// lsaSecretsRegSave matches "reg save|export HKLM\<hive>[\subkey] <file>", with reg, reg.exe,
// quoted or with a path, and HKLM or HKEY_LOCAL_MACHINE.
var lsaSecretsRegSave = regexp.MustCompile(`(?i)\breg(?:\.exe)?["']?\s+(save|export)\s+["']?(?:hklm|hkey_local_machine)\\(sam|security|system)((?:\\[^\s"']*)?)["']?(?:\s+("[^"]+"|'[^']+'|\S+))?`)

// LSASecretsDump raises an alert when reg.exe saves or exports the registry hives that hold
// credentials (Sysmon 1 or Security 4688): HKLM\SECURITY (LSA secrets, cached domain
// credentials: T1003.004) and HKLM\SAM (local account hashes: T1003.002) are high; the
// whole HKLM\SYSTEM hive alone, which holds the boot key that decrypts them, is medium;
// subkeys of SYSTEM are ordinary administration and ignored. One alert per host, key and
// destination file, so a launcher (PsExec ... reg save ...) and the reg.exe it starts, and
// their 4688 twins, are one alert; through Episodes, a save on a host where credential stores
// are being copied (credential-store-dump: ntds.dit from a shadow copy, then the SYSTEM hive
// for its boot key) joins that alert.
type LSASecretsDump struct {
	// Episodes (may be nil) groups this alert with the other store copies on the host.
	Episodes *CredEpisodes
}

// NewLSASecretsDump returns the detector; it has no thresholds.
func NewLSASecretsDump() *LSASecretsDump { return &LSASecretsDump{} }

// Name implements detection.Detector.
func (d *LSASecretsDump) Name() string { return "lsa-secrets-dump" }

// Detect implements detection.Detector.
func (d *LSASecretsDump) Detect(ev *adjoinv1.Event) []*adjoinv1.Alert {
	p, ok := credProcStartOf(ev)
	if !ok {
		return nil
	}
	m := lsaSecretsRegSave.FindStringSubmatch(p.commandLine)
	if m == nil {
		return nil
	}
	verb, hive, subkey, file := strings.ToLower(m[1]), strings.ToUpper(m[2]), m[3], strings.Trim(m[4], `"'`)
	severity, technique := adjoinv1.Severity_SEVERITY_HIGH, "T1003.004"
	switch hive {
	case "SAM":
		technique = "T1003.002"
	case "SYSTEM":
		if strings.Trim(subkey, `\`) != "" {
			return nil
		}
		severity, technique = adjoinv1.Severity_SEVERITY_MEDIUM, "T1003.002"
	}
	key := `HKLM\` + hive + subkey
	parent := ""
	if p.parentImage != "" {
		parent = " (parent " + detection.BaseName(p.parentImage) + ")"
	}
	a := credAlert(ev, d.Name(), []string{strings.ToLower(key), credWindowsPath(file, p.cwd)}, severity,
		adjoinv1.KillChainPhase_KILL_CHAIN_PHASE_CREDENTIAL_ACCESS, []string{technique},
		"Credential dumping: registry hive "+hive+" saved",
		fmt.Sprintf("%s%s on %s, run by %s, ran reg %s %s to %s.", p.image, parent, ev.GetHost(), credOr(p.user, "SYSTEM or an unknown user"), verb, key, credOr(file, "an unnamed file")))
	hives := credStoreKey(ev.GetHost(), "hives")
	a.Id = d.Episodes.Claim(credKeys(credStoreKey(ev.GetHost(), "ntds"), hives), credKeys(hives), detection.TraceOf(ev), a.GetId())
	credAddEntity(a, p.actor())
	a.Evidence = []*adjoinv1.Evidence{p.evidence(fmt.Sprintf("%d %s: reg %s %s %s", ev.GetEventId(), detection.BaseName(p.image), verb, key, file))}
	return []*adjoinv1.Alert{a}
}
