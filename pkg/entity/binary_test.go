package entity

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// sidBytes encodes a string SID with a decimal authority in the MS-DTYP 2.4.2.2 layout, as an
// independent check of SIDFromBytes.
func sidBytes(t testing.TB, s string) []byte {
	t.Helper()
	parts := strings.Split(s, "-")
	if len(parts) < 3 || parts[0] != "S" || parts[1] != "1" {
		t.Fatalf("not a SID: %q", s)
	}
	auth, err := strconv.ParseUint(parts[2], 10, 48)
	if err != nil {
		t.Fatalf("authority of %q: %v", s, err)
	}
	b := []byte{1, byte(len(parts) - 3), 0, 0, 0, 0, 0, 0}
	for i := range 6 {
		b[2+i] = byte(auth >> (8 * (5 - i)))
	}
	for _, p := range parts[3:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			t.Fatalf("sub-authority of %q: %v", s, err)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

func TestSIDFromBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string // hex
		want    string
		wantErr error
		errText string
	}{
		{name: "LocalSystem", in: "010100000000000512000000", want: "S-1-5-18"},
		{name: "null SID", in: "010100000000000000000000", want: "S-1-0-0"},
		{name: "no sub-authorities", in: "010000000000000005", want: "", wantErr: ErrInvalidSID, errText: "length"},
		{name: "authority only", in: "0100000000000005", want: "S-1-5"},
		{
			// objectSid of sysmonsvc as MORDORDC returned it over LDAP in the OTRF S12 capture
			// (otrf/background/purplesharp_ad_playbook_I_2020-10-22042947.cap); the domain SID
			// is the one data/README.md lists for S12.
			name: "S12 sysmonsvc from LDAP capture",
			in:   "010500000000000515000000126b798a8da68bf1cc976c6a56040000",
			want: "S-1-5-21-2323213074-4052461197-1785501644-1110",
		},
		{
			// objectSid of Domain Admins in the OTRF S8 capture (2020-09 lab build).
			name: "S8 Domain Admins from LDAP capture",
			in:   "010500000000000515000000af1c0dfc57058b3d30a0f16b00020000",
			want: "S-1-5-21-4228717743-1032521047-1810997296-512",
		},
		{
			name: "S1 pgustavo, RID 1104",
			in:   "010500000000000515000000003dbfdaad9248884677f53950040000",
			want: "S-1-5-21-3669966080-2286457517-972388166-1104",
		},
		{name: "stray byte after header", in: "010100000000000515" + "ffffffff", wantErr: ErrInvalidSID, errText: "length 13 bytes, want 12"},
		{name: "sub-authority 2^32-1", in: "0101000000000005ffffffff", want: "S-1-5-4294967295"},
		{name: "48-bit authority in hex", in: "0101123456789abc01000000", want: "S-1-0x123456789ABC-1"},
		{name: "empty", in: "", wantErr: ErrInvalidSID, errText: "header"},
		{name: "short header", in: "010100", wantErr: ErrInvalidSID, errText: "header"},
		{name: "bad revision", in: "020100000000000512000000", wantErr: ErrInvalidSID, errText: "revision 2"},
		{name: "too many sub-authorities", in: "0110000000000005" + strings.Repeat("00", 64), wantErr: ErrInvalidSID, errText: "sub-authority count 16"},
		{name: "truncated", in: "0105000000000005150000002d", wantErr: ErrInvalidSID, errText: "length 13 bytes, want 28"},
		{name: "trailing byte", in: "01010000000000051200000000", wantErr: ErrInvalidSID, errText: "length 13 bytes, want 12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := SIDFromBytes(mustHex(t, tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("SIDFromBytes(%s) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("error %q does not mention %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("SIDFromBytes(%s): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("SIDFromBytes(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSIDFromBytesMatchesEncoder(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"S-1-5-18",
		"S-1-5-32-544",
		"S-1-5-21-3669966080-2286457517-972388166-500",
		"S-1-5-21-3669966080-2286457517-972388166-1113",
	} {
		got, err := SIDFromBytes(sidBytes(t, s))
		if err != nil || got != s {
			t.Errorf("round trip of %s = %q, %v", s, got, err)
		}
		if NormalizeSID(got) != s {
			t.Errorf("NormalizeSID(%q) = %q, want it unchanged", got, NormalizeSID(got))
		}
	}
}

func TestGUIDFromBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string // hex, as stored in objectGUID
		want    string
		wantErr error
		errText string
	}{
		{
			// MS-DTYP 2.3.4.2: Data1 (4 bytes), Data2 and Data3 (2 bytes each) little-endian,
			// Data4 (8 bytes) as is. The GUID is DS-Replication-Get-Changes, which the S1 4662
			// events carry as {1131f6aa-9c07-11d1-f79f-00c04fc2dcd2}.
			name: "MS-DTYP layout, DS-Replication-Get-Changes",
			in:   "aaf63111079cd111f79f00c04fc2dcd2",
			want: "1131f6aa-9c07-11d1-f79f-00c04fc2dcd2",
		},
		{
			name: "byte positions",
			in:   "000102030405060708090a0b0c0d0e0f",
			want: "03020100-0504-0706-0809-0a0b0c0d0e0f",
		},
		{name: "all ones", in: strings.Repeat("ff", 16), want: "ffffffff-ffff-ffff-ffff-ffffffffffff"},
		{name: "empty", in: "", wantErr: ErrInvalidGUID, errText: "length 0"},
		{name: "short", in: strings.Repeat("00", 15), wantErr: ErrInvalidGUID, errText: "length 15 bytes, want 16"},
		{name: "long", in: strings.Repeat("00", 17), wantErr: ErrInvalidGUID, errText: "length 17 bytes, want 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := GUIDFromBytes(mustHex(t, tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("GUIDFromBytes(%s) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("error %q does not mention %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("GUIDFromBytes(%s): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("GUIDFromBytes(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestGUIDFromBytesRealObjectGUIDs checks the byte order on objectGUIDs that MORDORDC returned
// over LDAP in the OTRF captures (S8 and S12), and on the domain GUID in its S1 CLDAP ping reply. Windows creates random (version 4, RFC 4122
// variant) GUIDs; only the correct reading puts the version nibble at the start of the third
// group and the variant bits at the start of the fourth, for every one of them.
func TestGUIDFromBytesRealObjectGUIDs(t *testing.T) {
	t.Parallel()
	captured := map[string]string{
		"S12 sysmonsvc":    "3093d7de07b9944b880d21bd216c8b22",
		"S12 nxlogsvc":     "1a19b39c657a584b84d8c88dd88fd23f",
		"S12 defensesvc":   "5eb9efb49585bc42a6e8bc8601373832",
		"S12 otrsvc":       "a265e237ff74f14899867464efb9c41a",
		"S12 mordorsvc":    "267743e6857e444a987a15c4bf474897",
		"S8 Domain Admins": "30ffa6bbfcab6641b2095e6edd49366b",
	}
	want := map[string]string{
		"S12 sysmonsvc":     "ded79330-b907-4b94-880d-21bd216c8b22",
		"S1 domain (CLDAP)": "3933c65d-ac7f-4c79-b5b7-ad0fb941333c",
	}
	for name, h := range captured {
		got, err := GUIDFromBytes(mustHex(t, h))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got[14] != '4' || !strings.ContainsRune("89ab", rune(got[19])) {
			t.Errorf("%s: %s is not a version-4 RFC 4122 GUID; byte order wrong?", name, got)
		}
		if w, ok := want[name]; ok && got != w {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
		if NormalizeGUID(got) != got {
			t.Errorf("%s: NormalizeGUID(%q) changed it", name, got)
		}
	}
}

func FuzzSIDFromBytes(f *testing.F) {
	for _, h := range []string{
		"010100000000000512000000",
		"010500000000000515000000126b798a8da68bf1cc976c6a56040000",
		"0101123456789abc01000000",
		"020100000000000512000000",
		"",
	} {
		f.Add(mustHex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := SIDFromBytes(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidSID) || s != "" {
				t.Fatalf("SIDFromBytes(%x) = %q, %v: error must wrap ErrInvalidSID and return no SID", b, s, err)
			}
			return
		}
		if strings.Contains(s, "0x") || b[1] == 0 {
			return // hex authority or no sub-authority: not a form NormalizeSID accepts
		}
		if NormalizeSID(s) != s {
			t.Fatalf("SIDFromBytes(%x) = %q, which NormalizeSID does not keep", b, s)
		}
		if back := sidBytes(t, s); string(back) != string(b) {
			t.Fatalf("round trip of %x gave %q and back %x", b, s, back)
		}
	})
}

func FuzzGUIDFromBytes(f *testing.F) {
	f.Add(mustHex(f, "aaf63111079cd111f79f00c04fc2dcd2"))
	f.Add([]byte{})
	f.Add(make([]byte, 17))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := GUIDFromBytes(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidGUID) || len(b) == guidLen {
				t.Fatalf("GUIDFromBytes(%x): unexpected error %v", b, err)
			}
			return
		}
		if NormalizeGUID(s) != s {
			t.Fatalf("GUIDFromBytes(%x) = %q, not canonical", b, s)
		}
	})
}
