package dcingest_test

import (
	"strings"
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/services/dcingest"
)

// An attack aimed at a privileged account ranks one step higher and names the account: the
// captured brute force of sa_bilbo is MEDIUM while sa_bilbo is an ordinary user, HIGH once the
// directory says it is privileged; the spray, whose targets are all ordinary, stays as it is.
func TestPrivilegedTargetRaisesSeverity(t *testing.T) {
	t.Parallel()
	events := sambaEvents(t, "adjoindc.adjoin.test", "samba-audit.log")
	run := func(privileged bool) map[string]*adjoinv1.Alert {
		dir := sambaDirectory(t)
		if privileged {
			m := dir.Resolve(&adjoinv1.EntityRef{SamAccountName: "sa_bilbo", Domain: "ADJOIN"})
			if m.Entity == nil {
				t.Fatal("sa_bilbo is not in the capture's directory")
			}
			m.Entity.Privileged = true // as if added to Domain Admins before the attack
			dir.Put(m.Entity)
		}
		ds := dcingest.Detectors(dir, dcingest.DetectorOptions{})
		var alerts []*adjoinv1.Alert
		for _, ev := range events {
			alerts = append(alerts, detection.Run(ds, ev)...)
		}
		out := map[string]*adjoinv1.Alert{}
		for _, a := range detection.Merge(alerts) {
			out[a.GetDetector()] = a
		}
		return out
	}
	plain, priv := run(false), run(true)
	bf, bfPriv := plain["password-brute-force"], priv["password-brute-force"]
	if bf == nil || bfPriv == nil {
		t.Fatalf("no brute force alert: %v / %v", bf, bfPriv)
	}
	if bf.GetSeverity() != adjoinv1.Severity_SEVERITY_MEDIUM || strings.Contains(bf.GetDescription(), "Privileged") {
		t.Errorf("ordinary target: severity %v, description %q", bf.GetSeverity(), bf.GetDescription())
	}
	if bfPriv.GetSeverity() != adjoinv1.Severity_SEVERITY_HIGH || !strings.Contains(bfPriv.GetDescription(), `Privileged account(s) targeted: ADJOIN\sa_bilbo.`) {
		t.Errorf("privileged target: severity %v, description %q", bfPriv.GetSeverity(), bfPriv.GetDescription())
	}
	if bf.GetId() != bfPriv.GetId() {
		t.Errorf("alert id changed with the directory: %s / %s", bf.GetId(), bfPriv.GetId())
	}
	if s1, s2 := plain["password-spray"].GetSeverity(), priv["password-spray"].GetSeverity(); s1 != s2 {
		t.Errorf("spray severity %v / %v, want unchanged", s1, s2)
	}
}
