package sambatest

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Via returns a copy of dc whose Kinit, SMBLogon and LDAPSearch reach the DC through TCP
// relays that connect to it from the local address from, with a krb5.conf and a credential
// cache of their own. The lab DC listens on loopback, and detectors ignore loopback clients
// (a DC's own processes), so traffic meant to look like it comes from a client host goes
// through Via(OtherAddress(t)). Kerberos goes over TCP (udp_preference_limit = 1).
func (dc *DC) Via(t testing.TB, from string) *DC {
	t.Helper()
	c := *dc
	c.Dir = t.TempDir()
	target := "127.0.0.1" // the DC listens on both loopback addresses; dial the one of from's family
	if ip := net.ParseIP(from); ip != nil && ip.To4() == nil {
		target = "::1"
	}
	c.kdc = Relay(t, from, net.JoinHostPort(target, "88"))
	c.smb = Relay(t, from, net.JoinHostPort(target, "445"))
	c.ldaps = Relay(t, from, net.JoinHostPort(target, "636"))
	c.KRB5Config = filepath.Join(c.Dir, "krb5.conf")
	conf := fmt.Sprintf("[libdefaults]\n\tdefault_realm = %[1]s\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n\trdns = false\n"+
		"\tudp_preference_limit = 1\n[realms]\n\t%[1]s = {\n\t\tkdc = %[2]s\n\t}\n", dc.Realm, c.kdc)
	if err := os.WriteFile(c.KRB5Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &c
}

// OtherAddress returns an address of this machine that is not loopback (IPv4 first), for Via.
func OtherAddress(t testing.TB) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	var v6 string
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.IsLoopback() || !n.IP.IsGlobalUnicast() {
			continue
		}
		if n.IP.To4() != nil {
			return n.IP.String()
		}
		if v6 == "" {
			v6 = n.IP.String()
		}
	}
	if v6 == "" {
		t.Fatal("this machine has no address other than loopback to send lab traffic from")
	}
	return v6
}

// Relay listens on a loopback port and connects each client to target from the local address
// from; it returns the port's address and stops with the test.
func Relay(t testing.TB, from, target string) string {
	t.Helper()
	return RelayAt(t, "127.0.0.1:0", from, target)
}

// RelayAt is Relay listening on listen ("192.0.2.2:135"): a client that must reach the DC at
// fixed ports on another address (DCE/RPC, whose endpoint mapper names the port to dial on the
// same host) is pointed at listen's host.
func RelayAt(t testing.TB, listen, from, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := dialer.Dial("tcp", target)
			if err != nil {
				t.Errorf("relay from %s to %s: %v", from, target, err)
				in.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				pipe(in, out)
			}()
		}
	}()
	return ln.Addr().String()
}

func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	<-done
	a.Close()
	b.Close()
}
