package wire

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// seedMessages adds the first bytes of each capture's TCP payloads as seeds: real Kerberos,
// SMB2, DCE/RPC and LDAP messages.
func seedCaptures(f *testing.F) {
	for _, name := range []string{"empire_shell_rubeus_asktgt_ptt_2020-09-21223848.cap", "empire_shell_samr_EnumDomainUsers_2020-09-21193527.cap",
		"covenant_getdomaingroup_ldap_searchrequest_domain_admins_2020-09-22141005.cap"} {
		b, err := os.ReadFile(pcapDir + name)
		if err != nil {
			f.Fatal(err)
		}
		for i := 24; i+16 < len(b) && i < 1<<16; i += 1500 {
			f.Add(b[i:min(len(b), i+1500)])
		}
	}
}

func FuzzKerberos(f *testing.F) {
	seedCaptures(f)
	f.Add([]byte{tagASReq, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeKerberos(b)
		if err == nil && m.Type == "" {
			t.Fatal("decoded a message of no type")
		}
	})
}

func FuzzNTLM(f *testing.F) {
	f.Add(append(append([]byte(nil), ntlmSignature...), 3, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeNTLM(append(append([]byte(nil), ntlmSignature...), b...))
		if err == nil && m.Type == 3 && len(m.User) > len(b) {
			t.Fatal("user name longer than the message")
		}
	})
}

func FuzzRPC(f *testing.F) {
	seedCaptures(f)
	f.Add([]byte{5, 0, 11, 3, 0x10, 0, 0, 0, 0x48, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeRPC(b)
		if err == nil && len(p.Auth) > len(b) {
			t.Fatal("auth longer than the PDU")
		}
		apReqTicket(b)
	})
}

func FuzzLDAP(f *testing.F) {
	seedCaptures(f)
	f.Add([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeLDAP(b)
		unwrapSASL(b)
		ldapFrame(b)
	})
}

// FuzzStream feeds arbitrary bytes as both directions of an SMB2, DCE/RPC, LDAP, Kerberos and
// HTTP connection: whatever arrives, the sensor neither panics nor buffers past MaxPDU.
func FuzzStream(f *testing.F) {
	seedCaptures(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewSensor(Config{MaxPDU: 4096}, layers.LinkTypeEthernet, func(Record) {})
		for _, p := range []proto{protoSMB, protoDCERPC, protoLDAP, protoKerberos, protoHTTP} {
			st := &stream{s: s, proto: p}
			half := len(b) / 2
			st.feed(0, &st.dirs[0], b[:half], time.Unix(0, 0))
			st.feed(1, &st.dirs[1], b[half:], time.Unix(0, 0))
			st.feed(0, &st.dirs[0], bytes.Repeat(b, 2), time.Unix(0, 0))
			for _, h := range st.dirs {
				if len(h.buf) > 4096+2*len(b) {
					t.Fatalf("proto %d buffered %d bytes", p, len(h.buf))
				}
			}
		}
	})
}
