package cef

import (
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Lines as Defender for Identity (product "Azure ATP") forwards them, taken from the public
// SIEM log samples its documentation and SIEM vendors' parser guides reproduce. The first is
// the RFC 3164 form (header, then "CEF:"); user and host names are those of the samples.
const (
	mdiRFC3164 = `<132>May 13 13:55:00 TESTMACHINE CEF:0|Microsoft|Azure ATP|2.78.0.0|AccountEnumerationSecurityAlert|Reconnaissance using account enumeration|5|start=2019-05-13T13:54:41.1234567Z app=Kerberos shost=CLIENT1 suser=LMaldonado msg=Suspicious account enumeration activity using the Kerberos protocol, originating from CLIENT1, was observed and successfully guessed Lamon Maldonado (Software Engineer). externalId=2003 cs1Label=url cs1=https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d cs2Label=trigger cs2=new`
	mdiBare    = `CEF:0|Microsoft|Azure ATP|2.194.15869.60621|RemoteExecutionSecurityAlert|Remote code execution attempt|5|start=2022-11-22T22:05:10.8398810Z app=Wmi shost=Hostname2 shostfqdn=Hostname2.example.com msg=User1 made an attempt to run commands remotely on Hostname2 from Hostname3, using 1 WMI method.  externalId=2019 cs1Label=url cs1=https:security.example.com cs2Label=trigger cs2=new cs3Label=mSecUrl cs3=https://alerts.example.com`
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Event
		wantErr error
	}{
		{
			name: "defender for identity after an RFC 3164 header",
			in:   mdiRFC3164,
			want: Event{Version: 0, Vendor: "Microsoft", Product: "Azure ATP", DeviceVersion: "2.78.0.0",
				SignatureID: "AccountEnumerationSecurityAlert", Name: "Reconnaissance using account enumeration", Severity: "5",
				Ext: map[string]string{
					"start": "2019-05-13T13:54:41.1234567Z", "app": "Kerberos", "shost": "CLIENT1", "suser": "LMaldonado",
					"msg":        "Suspicious account enumeration activity using the Kerberos protocol, originating from CLIENT1, was observed and successfully guessed Lamon Maldonado (Software Engineer).",
					"externalId": "2003", "cs1Label": "url", "cs1": "https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d",
					"cs2Label": "trigger", "cs2": "new",
				}},
		},
		{
			name: "double space before a key and unescaped colon in a value",
			in:   mdiBare + "\r\n",
			want: Event{Vendor: "Microsoft", Product: "Azure ATP", DeviceVersion: "2.194.15869.60621",
				SignatureID: "RemoteExecutionSecurityAlert", Name: "Remote code execution attempt", Severity: "5",
				Ext: map[string]string{
					"start": "2022-11-22T22:05:10.8398810Z", "app": "Wmi", "shost": "Hostname2", "shostfqdn": "Hostname2.example.com",
					"msg":        "User1 made an attempt to run commands remotely on Hostname2 from Hostname3, using 1 WMI method.",
					"externalId": "2019", "cs1Label": "url", "cs1": "https:security.example.com", "cs2Label": "trigger", "cs2": "new",
					"cs3Label": "mSecUrl", "cs3": "https://alerts.example.com",
				}},
		},
		{
			name: "escapes in the header",
			in:   `CEF:1|Ven\|dor|Pro\\duct|1.0|sig\|1|Name with = and \q|High|`,
			want: Event{Version: 1, Vendor: "Ven|dor", Product: `Pro\duct`, DeviceVersion: "1.0", SignatureID: "sig|1",
				Name: `Name with = and \q`, Severity: "High", Ext: map[string]string{}},
		},
		{
			name: "escapes in extension values",
			in:   `CEF:0|V|P|1|100|N|3|msg=a\=b c\\d line1\nline2\r fname=C:\Windows\System32 request=https://x.test/?a=b&c=d act=pipe | ok`,
			want: Event{Vendor: "V", Product: "P", DeviceVersion: "1", SignatureID: "100", Name: "N", Severity: "3",
				Ext: map[string]string{
					"msg":     "a=b c\\d line1\nline2\r",
					"fname":   `C:\Windows\System32`,
					"request": "https://x.test/?a=b&c=d",
					"act":     "pipe | ok",
				}},
		},
		{
			name: "escaped backslash before a key",
			in:   `CEF:0|V|P|1|100|N|3|path=C:\\ dst=10.0.0.1`,
			want: Event{Vendor: "V", Product: "P", DeviceVersion: "1", SignatureID: "100", Name: "N", Severity: "3",
				Ext: map[string]string{"path": `C:\`, "dst": "10.0.0.1"}},
		},
		{
			name: "empty values and a repeated key",
			in:   `CEF:0|V|P|1|100|N|3|a= b=x b=y c=`,
			want: Event{Vendor: "V", Product: "P", DeviceVersion: "1", SignatureID: "100", Name: "N", Severity: "3",
				Ext: map[string]string{"a": "", "b": "y", "c": ""}},
		},
		{
			name: "no extension and no final pipe",
			in:   `CEF:0|V|P|1|100|N| 7 `,
			want: Event{Vendor: "V", Product: "P", DeviceVersion: "1", SignatureID: "100", Name: "N", Severity: "7", Ext: map[string]string{}},
		},
		{
			name: "RFC 5424 header with structured data",
			in:   `<134>1 2024-03-01T10:00:00Z host app - - [x@1 a="b"] CEF:0|V|P|1|100|N|3|suser=CORP\\alice`,
			want: Event{Vendor: "V", Product: "P", DeviceVersion: "1", SignatureID: "100", Name: "N", Severity: "3",
				Ext: map[string]string{"suser": `CORP\alice`}},
		},
		{name: "no marker", in: `0|Microsoft|Azure ATP|2|Sig|Name|5|a=b`, wantErr: ErrNotCEF},
		{name: "empty", in: ``, wantErr: ErrNotCEF},
		{name: "too few header fields", in: `CEF:0|V|P|1|100|N`, wantErr: ErrMalformed},
		{name: "escaped pipe does not count", in: `CEF:0|V|P|1|100|N\|3`, wantErr: ErrMalformed},
		{name: "version not a number", in: `CEF:x|V|P|1|100|N|3|a=b`, wantErr: ErrMalformed},
		{name: "negative version", in: `CEF:-1|V|P|1|100|N|3|a=b`, wantErr: ErrMalformed},
		{name: "text before the first key", in: `CEF:0|V|P|1|100|N|3|hello a=b`, wantErr: ErrMalformed},
		{name: "extension without any key", in: `CEF:0|V|P|1|100|N|3|just text`, wantErr: ErrMalformed},
		{name: "escaped equals is no key", in: `CEF:0|V|P|1|100|N|3|a\=b`, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%#v\nwant\n%#v", got, tt.want)
			}
			// What Parse returns survives a trip through String, and one through Fields.
			again, err := Parse(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("Parse(String()) = %#v, %v; want %#v", again, err, got)
			}
			if back, ok := FromFields(got.Fields()); !ok || !reflect.DeepEqual(back, got) {
				t.Errorf("FromFields(Fields()) = %#v, %v; want %#v", back, ok, got)
			}
		})
	}
}

func TestCustom(t *testing.T) {
	t.Parallel()
	e, err := Parse(mdiRFC3164)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		label, want string
		ok          bool
	}{
		{"url", "https://contoso-corp.atp.azure.com/securityAlert/eb6a35da-ff7f-4ab5-a1b5-a07529a89e6d", true},
		{"TRIGGER", "new", true},
		{"missing", "", false},
	}
	for _, tt := range tests {
		if got, ok := e.Custom(tt.label); got != tt.want || ok != tt.ok {
			t.Errorf("Custom(%q) = %q, %v; want %q, %v", tt.label, got, ok, tt.want, tt.ok)
		}
	}
	// A label without its value field is not found.
	e.Ext = map[string]string{"cs4Label": "url"}
	if got, ok := e.Custom("url"); ok {
		t.Errorf("Custom without cs4 = %q, want not found", got)
	}
}

func TestFromFields(t *testing.T) {
	t.Parallel()
	if _, ok := FromFields(map[string]string{"suser": "alice"}); ok {
		t.Error("FromFields without a header succeeded")
	}
	e, ok := FromFields(map[string]string{KeyVendor: "V", KeyProduct: "P", KeyVersion: "x", "suser": "alice"})
	if !ok || e.Version != 0 || e.Vendor != "V" || e.Product != "P" || !maps.Equal(e.Ext, map[string]string{"suser": "alice"}) {
		t.Errorf("FromFields = %#v, %v", e, ok)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "1582029600000", want: utc("2020-02-18T12:40:00Z")},
		{in: "2022-11-22T22:05:10.8398810Z", want: utc("2022-11-22T22:05:10.839881Z")},
		{in: "2022-11-22T23:05:10+01:00", want: utc("2022-11-22T22:05:10Z")},
		{in: "2022-11-22T22:05:10.5", want: utc("2022-11-22T22:05:10.5Z")},
		{in: "Feb 18 2020 12:40:00.123 UTC", want: utc("2020-02-18T12:40:00.123Z")},
		{in: "Feb  8 2020 12:40:00", want: utc("2020-02-08T12:40:00Z")},
		{in: "Feb 18 2020 13:40:00 +0100", want: utc("2020-02-18T12:40:00Z")},
		{in: "Feb 18 12:40:00", wantErr: true}, // no year
		{in: "", wantErr: true},
		{in: "-5", wantErr: true},
		{in: "99999999999999999", wantErr: true},
		{in: "yesterday", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseTime(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadTime) {
				t.Errorf("ParseTime(%q) = %v, %v; want ErrBadTime", tt.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestEventTime(t *testing.T) {
	t.Parallel()
	e := Event{Ext: map[string]string{"rt": "garbage", "start": "1582029600000"}}
	if got, ok := e.Time("rt", "start", "end"); !ok || got.UnixMilli() != 1582029600000 {
		t.Errorf("Time = %v, %v; want the start time", got, ok)
	}
	if _, ok := e.Time("end"); ok {
		t.Error("Time(end) found a time in a missing field")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		mdiRFC3164, mdiBare,
		`CEF:0|V|P|1|100|N|3|a\=b c\\d e=f\ng`,
		`CEF:1|Ven\|dor|Pro\\duct|1.0|sig|N|High|`,
		`CEF:0|V|P|1|100|N|3`,
		`CEF:0|V|P|1|100|N|3|a=b=c d= e=`,
		`<134>1 2024-03-01T10:00:00Z h a - - - CEF:0|V|P|1|100|N|3|x=y`,
		`CEF:|||||||`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrNotCEF) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v is neither ErrNotCEF nor ErrMalformed", err)
			}
			return
		}
		if !strings.Contains(s, marker) || e.Version < 0 || e.Ext == nil {
			t.Fatalf("Parse(%q) = %#v", s, e)
		}
		for k := range e.Ext {
			if k == "" || strings.ContainsAny(k, " =\\") {
				t.Fatalf("Parse(%q) gave key %q", s, k)
			}
		}
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v (line %q)", s, err, e.String())
		}
		if again.Version != e.Version || again.Vendor != e.Vendor || again.Product != e.Product ||
			again.DeviceVersion != e.DeviceVersion || again.SignatureID != e.SignatureID || again.Name != e.Name ||
			again.Severity != e.Severity || !maps.Equal(again.Ext, e.Ext) {
			t.Fatalf("round trip of %q:\n got %#v\nwant %#v\nline %q", s, again, e, e.String())
		}
		for k := range e.Ext {
			if strings.HasPrefix(k, "cef.") {
				return // an extension key that Fields would shadow
			}
		}
		if back, ok := FromFields(e.Fields()); !ok || !reflect.DeepEqual(back, e) {
			t.Fatalf("FromFields(Fields()) of %q = %#v, %v; want %#v", s, back, ok, e)
		}
	})
}
