//go:debug x509negativeserial=1

package dcingest_test

// The directive above lets Go parse the lab Samba DC's self-generated certificate, whose serial
// number is negative (the adjoin-dcingest binary has the same directive).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/directory"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/natsx/natstest"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/services/dcingest"
	"github.com/adjoin/adjoin/services/dcingest/internal/ldaptest"
)

// TestSambaLDAPSyncIntoDirectory runs the DC ingestor against the lab Samba DC and follows changes
// made there into adjoin_directory: the full sync on start, then incremental syncs of a new
// user, a disabled one, a deleted one, and a user added to Domain Admins and removed again
// (which changes the group's uSNChanged, not the user's); a refused bind on the way keeps the
// directory and says why in adjoin_status.
func TestSambaLDAPSyncIntoDirectory(t *testing.T) {
	lab := ldaptest.Open(t)
	dc := lab.DC
	s := natstest.Start(t)
	dirKV, statusKV := s.KV(t, natsx.BucketDirectory), s.KV(t, natsx.BucketStatus)
	ctx := context.Background()
	source := "ldap:" + dc.LDAPSURL()

	// Left by an earlier run of this source for an account deleted since: the full sync removes
	// it. The LDIF-sourced entity is another source's and stays.
	stale := &adjoinv1.Entity{Key: "00000000-0000-4000-8000-00000000abcd", ObjectGuid: "00000000-0000-4000-8000-00000000abcd",
		Kind: adjoinv1.EntityKind_ENTITY_KIND_USER, SamAccountName: "ls_gone", Source: source}
	putEntity(t, dirKV, stale)
	const ldifSID = "S-1-5-21-1-2-3-7777"
	ldifData := []byte("dn: CN=ls_ldif,CN=Users," + dc.BaseDN + "\nobjectClass: user\nobjectSid: " + ldifSID + "\nsAMAccountName: ls_ldif\n")

	keep, dis, del, adm := ldaptest.Name(t, "k"), ldaptest.Name(t, "d"), ldaptest.Name(t, "x"), ldaptest.Name(t, "a")
	ids := map[string]string{}
	for _, u := range []string{keep, dis, del, adm} {
		lab.User(t, u)
		ids[u] = lab.Show(t, "user", u).GUID
	}
	records := watchSync(t, statusKV, source)

	pwFile := filepath.Join(t.TempDir(), "ldap-password")
	writeFile(t, pwFile, dc.AdminPassword+"\n")
	stop := startService(t, s, ldifData, dcingest.LDAPSettings{
		URL: dc.LDAPSURL(), BindDN: dc.BindDN(), PasswordFile: pwFile, CAFile: dc.CA, ServerName: dc.FQDN,
		Interval: time.Second, FullInterval: time.Hour, PageSize: 100, Timeout: 20 * time.Second,
	})
	defer stop()

	for _, u := range []string{keep, dis, del, adm} {
		eventually(t, u+" in the directory", func() bool { return getEntity(t, dirKV, ids[u]) != nil })
	}
	eventually(t, "the stale entity deleted", func() bool { return getEntity(t, dirKV, stale.GetKey()) == nil })
	if e := getEntity(t, dirKV, ldifSID); e == nil || e.GetSource() != "ldif:embedded-demo" {
		t.Errorf("LDIF entity %v, want it kept", e)
	}
	first := records.first(t)
	if first.GetLastKind() != "full" || first.GetDeleted() != 1 || first.GetWritten() != first.GetUsers()+first.GetComputers() ||
		first.GetUnchanged() != 0 || first.GetComputers() < 1 || first.GetPrivileged() < 1 || first.GetHighestUsn() <= 0 ||
		!strings.Contains(first.GetServer(), "NTDS Settings") || first.GetLastError() != "" || first.GetFailures() != 0 ||
		first.GetLastSuccess() == nil || first.GetLastAttempt() == nil || first.GetInstance() == "" {
		t.Errorf("first sync status %v, want a full sync that wrote everything and deleted the stale entity", first)
	}
	if rec, err := directory.GetSync(ctx, statusKV, "ldif:embedded-demo"); err != nil || rec.GetUsers() != 1 || rec.GetLastKind() != "full" || rec.GetLastSuccess() == nil {
		t.Errorf("LDIF import status %v (%v), want 1 user", rec, err)
	}

	neu := ldaptest.Name(t, "n")
	lab.User(t, neu)
	neuGUID := lab.Show(t, "user", neu).GUID
	eventually(t, "new user "+neu, func() bool { return getEntity(t, dirKV, neuGUID) != nil })

	dc.Tool(t, "user", "disable", dis)
	eventually(t, dis+" disabled", func() bool { return getEntity(t, dirKV, ids[dis]).GetDisabled() })

	lab.Delete(t, "CN="+del+",CN=Users,"+dc.BaseDN)
	eventually(t, del+" deleted", func() bool { return getEntity(t, dirKV, ids[del]) == nil })

	if getEntity(t, dirKV, ids[adm]).GetPrivileged() {
		t.Fatalf("%s privileged before joining Domain Admins", adm)
	}
	dc.Tool(t, "group", "addmembers", "Domain Admins", adm)
	eventually(t, adm+" privileged", func() bool {
		e := getEntity(t, dirKV, ids[adm])
		return e.GetPrivileged() && slices.ContainsFunc(e.GetMemberOf(), func(g string) bool { return strings.HasPrefix(g, "CN=Domain Admins,") })
	})
	dc.Tool(t, "group", "removemembers", "Domain Admins", adm)
	eventually(t, adm+" no longer privileged", func() bool {
		e := getEntity(t, dirKV, ids[adm])
		return !e.GetPrivileged() && len(e.GetMemberOf()) == 0
	})
	// Through a nested group: adm joins grp, then grp joins Domain Admins; deleting grp ends it.
	grp := ldaptest.Name(t, "g")
	grpDN := lab.Group(t, grp)
	dc.Tool(t, "group", "addmembers", grp, adm)
	dc.Tool(t, "group", "addmembers", "Domain Admins", grp)
	eventually(t, adm+" privileged through "+grp, func() bool { return getEntity(t, dirKV, ids[adm]).GetPrivileged() })
	lab.Delete(t, grpDN)
	eventually(t, adm+" no longer privileged after "+grp+" is deleted", func() bool {
		e := getEntity(t, dirKV, ids[adm])
		return !e.GetPrivileged() && len(e.GetMemberOf()) == 0
	})
	if last := records.last(); last.GetLastKind() != "incremental" || last.GetHighestUsn() <= first.GetHighestUsn() || last.GetServer() != first.GetServer() {
		t.Errorf("status after the changes %v, want an incremental sync past USN %d", last, first.GetHighestUsn())
	}

	writeFile(t, pwFile, "wrong-password\n")
	eventually(t, "the refused bind in the status", func() bool {
		r := records.last()
		return strings.Contains(r.GetLastError(), "LDAP bind as "+dc.BindDN()+" to "+dc.LDAPSURL()+" refused: invalid credentials (LDAP 49)") &&
			r.GetFailures() >= 1 && r.GetLastErrorTime() != nil
	})
	if getEntity(t, dirKV, ids[keep]) == nil || getEntity(t, dirKV, neuGUID) == nil {
		t.Error("entities lost while the bind is refused")
	}
	writeFile(t, pwFile, dc.AdminPassword+"\n")
	eventually(t, "recovery in the status", func() bool {
		r := records.last()
		return r.GetLastError() == "" && r.GetFailures() == 0 && r.GetLastSuccess().AsTime().After(r.GetLastAttempt().AsTime().Add(-time.Second))
	})
}

// TestLDAPDownServiceStillServes starts the DC ingestor with a DC that does not answer: the
// service serves anyway and adjoin_status says why the directory is not synced, with growing
// failure counts.
func TestLDAPDownServiceStillServes(t *testing.T) {
	s := natstest.Start(t)
	pwFile := filepath.Join(t.TempDir(), "ldap-password")
	writeFile(t, pwFile, "secret\n")
	records := watchSync(t, s.KV(t, natsx.BucketStatus), "ldap:ldaps://127.0.0.1:1")
	stop := startService(t, s, nil, dcingest.LDAPSettings{
		URL: "ldaps://127.0.0.1:1", BindDN: "reader@adjoin.test", PasswordFile: pwFile,
		Interval: time.Second, FullInterval: time.Hour, PageSize: 500, Timeout: 5 * time.Second,
	})
	defer stop()
	eventually(t, "two failures in the status", func() bool { return records.last().GetFailures() >= 2 })
	r := records.last()
	if !strings.Contains(r.GetLastError(), "LDAP connect to ldaps://127.0.0.1:1 failed") || !strings.Contains(r.GetLastError(), "connection refused") ||
		r.GetLastSuccess() != nil || r.GetLastErrorTime() == nil {
		t.Errorf("status %v, want the refused connection and no success", r)
	}
}

func TestLDAPSettingsValidate(t *testing.T) {
	dir := t.TempDir()
	pw, empty, notPEM := filepath.Join(dir, "pw"), filepath.Join(dir, "empty"), filepath.Join(dir, "ca.txt")
	writeFile(t, pw, "secret\n")
	writeFile(t, empty, "")
	writeFile(t, notPEM, "not a certificate")
	ok := func() dcingest.LDAPSettings {
		return dcingest.LDAPSettings{URL: "ldaps://dc1.corp.example", BindDN: "reader@corp.example", PasswordFile: pw,
			Interval: time.Minute, FullInterval: 24 * time.Hour, PageSize: 500, Timeout: 30 * time.Second}
	}
	tests := []struct {
		name   string
		change func(*dcingest.LDAPSettings)
		want   string // start of the error; "" for none
	}{
		{"valid", func(*dcingest.LDAPSettings) {}, ""},
		{"valid StartTLS with env password", func(l *dcingest.LDAPSettings) {
			l.URL, l.StartTLS, l.PasswordFile, l.Password = "ldap://dc1.corp.example:389", true, "", "secret"
		}, ""},
		{"off", func(l *dcingest.LDAPSettings) { *l = dcingest.LDAPSettings{} }, ""},
		{"bind DN without URL", func(l *dcingest.LDAPSettings) { l.URL = "" }, "ldap-bind-dn: set, but ldap-url is empty"},
		{"other scheme", func(l *dcingest.LDAPSettings) { l.URL = "https://dc1" }, "ldap-url:"},
		{"base DN in the URL", func(l *dcingest.LDAPSettings) { l.URL = "ldaps://dc1/DC=corp" }, "ldap-url:"},
		{"clear text", func(l *dcingest.LDAPSettings) { l.URL = "ldap://dc1" }, "ldap-url: ldap://dc1 would send the bind password in clear text"},
		{"StartTLS on LDAPS", func(l *dcingest.LDAPSettings) { l.StartTLS = true }, "ldap-starttls:"},
		{"no bind DN", func(l *dcingest.LDAPSettings) { l.BindDN = "" }, "ldap-bind-dn: required"},
		{"no password", func(l *dcingest.LDAPSettings) { l.PasswordFile = "" }, "ldap-password-file: required"},
		{"two passwords", func(l *dcingest.LDAPSettings) { l.Password = "x" }, "ldap-password-file: set, and ADJOIN_LDAP_PASSWORD too"},
		{"missing password file", func(l *dcingest.LDAPSettings) { l.PasswordFile = filepath.Join(dir, "nope") }, "ldap-password-file:"},
		{"empty password file", func(l *dcingest.LDAPSettings) { l.PasswordFile = empty }, "ldap-password-file:"},
		{"CA file not PEM", func(l *dcingest.LDAPSettings) { l.CAFile = notPEM }, "ldap-ca-file:"},
		{"CA and insecure", func(l *dcingest.LDAPSettings) { l.CAFile, l.InsecureSkipVerify = notPEM, true }, "ldap-insecure-skip-verify:"},
		{"bad base DN", func(l *dcingest.LDAPSettings) { l.BaseDN = "not a DN" }, "ldap-base-dn:"},
		{"interval", func(l *dcingest.LDAPSettings) { l.Interval = 0 }, "ldap-interval:"},
		{"full interval", func(l *dcingest.LDAPSettings) { l.FullInterval = time.Second }, "ldap-full-interval:"},
		{"page size", func(l *dcingest.LDAPSettings) { l.PageSize = 0 }, "ldap-page-size:"},
		{"timeout", func(l *dcingest.LDAPSettings) { l.Timeout = 0 }, "ldap-timeout:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ok()
			tt.change(&l)
			err := l.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want %q...", err, tt.want)
			}
		})
	}
}

// startService runs the DC ingestor with the given LDAP settings until the returned stop.
func startService(t *testing.T, s *natstest.Server, ldifData []byte, l dcingest.LDAPSettings) (stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cfg := dcingest.DefaultConfig()
	cfg.NATS.URL, cfg.HTTP.Listener, cfg.HTTP.ShutdownGrace = s.ClientURL(), ln, time.Second
	cfg.LDIFData, cfg.LDAP = ldifData, l
	go func() { done <- dcingest.Run(ctx, cfg, zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))) }()
	eventually(t, "the DC ingestor ready", func() bool {
		resp, err := http.Get("http://" + ln.Addr().String() + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// syncRecords are the DirectorySync records one source stored, in order.
type syncRecords struct {
	mu   sync.Mutex
	recs []*adjoinv1.DirectorySync
}

// watchSync collects every DirectorySync record source stores from now on.
func watchSync(t *testing.T, kv jetstream.KeyValue, source string) *syncRecords {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := kv.Watch(ctx, directory.SyncKey(source), jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	r := &syncRecords{}
	go func() {
		for e := range w.Updates() {
			rec := &adjoinv1.DirectorySync{}
			if e != nil && proto.Unmarshal(e.Value(), rec) == nil {
				r.mu.Lock()
				r.recs = append(r.recs, rec)
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); cancel() }) //nolint:errcheck // test teardown
	return r
}

func (r *syncRecords) last() *adjoinv1.DirectorySync {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		return nil
	}
	return r.recs[len(r.recs)-1]
}

// first is the first successful sync's record.
func (r *syncRecords) first(t *testing.T) *adjoinv1.DirectorySync {
	t.Helper()
	var got *adjoinv1.DirectorySync
	eventually(t, "a successful sync in the status", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, rec := range r.recs {
			if rec.GetLastSuccess() != nil {
				got = rec
				return true
			}
		}
		return false
	})
	return got
}

// eventually polls cond until it holds, failing the test after 30 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		if !cond() {
			return fmt.Errorf("waiting for %s", what)
		}
		return nil
	})
}

func getEntity(t *testing.T, kv jetstream.KeyValue, key string) *adjoinv1.Entity {
	t.Helper()
	e, err := kv.Get(context.Background(), key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	ent := &adjoinv1.Entity{}
	if err := proto.Unmarshal(e.Value(), ent); err != nil {
		t.Fatal(err)
	}
	return ent
}

func putEntity(t *testing.T, kv jetstream.KeyValue, e *adjoinv1.Entity) {
	t.Helper()
	b, err := proto.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), e.GetKey(), b); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
