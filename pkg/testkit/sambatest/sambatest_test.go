package sambatest

import "testing"

func TestSambaShow(t *testing.T) {
	dc := Load(t)
	a := dc.Show(t, "Administrator")
	if a["objectSid"] == "" || a["objectGUID"] == "" {
		t.Fatal(a)
	}
	dc.Modify(t, "dn: CN=Administrator,CN=Users,"+dc.BaseDN+"\nchangetype: modify\nreplace: description\ndescription: adjoin test\n")
	if got := dc.Show(t, "Administrator")["description"]; got != "adjoin test" {
		t.Fatal(got)
	}
}
