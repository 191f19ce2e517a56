package wire

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
)

// TestFilterOnCaptures runs the live filter in x/net/bpf's VM over every packet of two
// captures: it keeps exactly the TCP and UDP packets with a DC port or a dynamic port on
// either side, which here is all of them, and drops a frame to port 80.
func TestFilterOnCaptures(t *testing.T) {
	t.Parallel()
	raw, err := Filter(false)
	if err != nil {
		t.Fatal(err)
	}
	var ins []bpf.Instruction
	for _, r := range raw {
		ins = append(ins, r.Disassemble())
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap", "empire_shell_rubeus_asktgt_ptt_2020-09-21223848.cap"} {
		f, err := os.Open(pcapDir + name)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		kept, want := 0, 0
		for {
			data, _, err := r.ReadPacketData()
			if err != nil {
				break
			}
			p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
			var sp, dp int
			if tcp, ok := p.TransportLayer().(*layers.TCP); ok {
				sp, dp = int(tcp.SrcPort), int(tcp.DstPort)
			} else if udp, ok := p.TransportLayer().(*layers.UDP); ok {
				sp, dp = int(udp.SrcPort), int(udp.DstPort)
			}
			if isSensorPort(sp) || isSensorPort(dp) {
				want++
			}
			if n, err := vm.Run(data); err == nil && n > 0 {
				kept++
			}
		}
		f.Close()
		if kept != want || want == 0 {
			t.Errorf("%s: filter kept %d packets, want %d", name, kept, want)
		}
	}
	http := gopacket.NewSerializeBuffer()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{0, 1, 2, 3, 4, 6}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80}
	tcp.SetNetworkLayerForChecksum(ip)
	if err := gopacket.SerializeLayers(http, gopacket.SerializeOptions{FixLengths: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	if n, _ := vm.Run(http.Bytes()); n != 0 {
		t.Error("the filter kept a packet to port 80")
	}
}

func isSensorPort(p int) bool {
	for _, q := range Ports {
		if p == int(q) {
			return true
		}
	}
	return p >= DynamicLow
}

// chunk is one direction's bytes of a recorded TCP connection.
type chunk struct {
	fromClient bool
	data       []byte
}

// openPcap opens a capture of pcapDir for reading; the file is closed with the test.
func openPcap(t *testing.T, name string) *pcapgo.Reader {
	t.Helper()
	f, err := os.Open(pcapDir + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// recordedConn returns the payloads of the TCP connection to server port port in a capture,
// in order, consecutive segments of one direction joined.
func recordedConn(t *testing.T, name string, port layers.TCPPort) []chunk {
	t.Helper()
	r := openPcap(t, name)
	var out []chunk
	seen := map[string]bool{}
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, layers.LinkTypeEthernet, gopacket.Default)
		tcp, ok := p.TransportLayer().(*layers.TCP)
		if !ok || len(tcp.Payload) == 0 || (tcp.DstPort != port && tcp.SrcPort != port) {
			continue
		}
		key := strconv.Itoa(int(tcp.SrcPort)) + "/" + strconv.FormatUint(uint64(tcp.Seq), 10)
		if seen[key] { // a retransmission
			continue
		}
		seen[key] = true
		fromClient := tcp.DstPort == port
		if n := len(out); n > 0 && out[n-1].fromClient == fromClient {
			out[n-1].data = append(out[n-1].data, tcp.Payload...)
			continue
		}
		out = append(out, chunk{fromClient: fromClient, data: append([]byte(nil), tcp.Payload...)})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no connection to port %d", name, port)
	}
	return out
}

// replay plays a recorded connection over a real loopback TCP connection from client to
// server:port, each side writing its recorded bytes once it has read the other's.
func replay(t *testing.T, chunks []chunk, client, server string, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(server, strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		play(c, chunks, false)
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	play(c, chunks, true)
	c.Close()
	wg.Wait()
}

// play writes this side's chunks and reads the other side's, in order.
func play(c net.Conn, chunks []chunk, client bool) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, ch := range chunks {
		if ch.fromClient == client {
			if _, err := c.Write(ch.data); err != nil {
				return
			}
			continue
		}
		if _, err := io.ReadFull(c, make([]byte, len(ch.data))); err != nil {
			return
		}
	}
}

// TestCaptureLoopback captures the loopback interface live while the S1 DCSync capture's
// Kerberos exchange and DRSUAPI connection are replayed over real loopback sockets (from
// 127.0.0.2 to 127.0.0.3, ports 88 and 49674): the sensor decodes the replication request and
// names the account from the ticket, each record once although loopback shows every frame
// twice. It needs CAP_NET_RAW and is skipped without it.
func TestCaptureLoopback(t *testing.T) {
	const s1 = "covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.cap"
	krb, drs := recordedConn(t, s1, 88), recordedConn(t, s1, 49674)
	live, err := OpenLive("lo", 0)
	if err != nil {
		t.Skipf("no live capture here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var recs []Record
	var last Stats
	done := make(chan error, 1)
	go func() {
		done <- live.Run(ctx, Config{}, func(r Record) { mu.Lock(); recs = append(recs, r); mu.Unlock() }, time.Hour,
			func(s Stats, drops uint64) { mu.Lock(); last = s; mu.Unlock() })
	}()
	replay(t, krb, "127.0.0.2", "127.0.0.3", 88)
	replay(t, drs, "127.0.0.2", "127.0.0.3", 49674)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ok := has(recs, "dce_rpc", map[string]string{"operation": "DRSGetNCChanges"})
		mu.Unlock()
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"endpoint": "drsuapi", "operation": "DRSGetNCChanges", "id.orig_h": "127.0.0.2", "id.resp_h": "127.0.0.3",
		"id.resp_p": "49674", "client": "pgustavo@THESHIRE.LOCAL"}
	if !has(recs, "dce_rpc", want) {
		for _, r := range recs {
			t.Logf("%s %v", r.Log, r.Fields)
		}
		t.Fatalf("no %v (stats %+v)", want, last)
	}
	n := 0
	for _, r := range recs {
		if r.Log == "dce_rpc" && r.Fields["operation"] == "DRSGetNCChanges" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d DRSGetNCChanges records, want 1", n)
	}
}
