// Package wire is the domain-controller traffic sensor: it reads packets (from a pcap file or
// a live socket), reassembles TCP with gopacket's reassembly package, and decodes the
// protocols identity detections need — Kerberos (AS, TGS, KRB-ERROR), NTLMSSP (inside SMB2,
// HTTP and DCE/RPC), DCE/RPC binds and requests (interface and operation), SMB2 tree
// connects and creates, and LDAP binds and searches — into Records named like Zeek's logs
// (kerberos, ntlm, dce_rpc, smb_mapping, smb_files, ldap, ldap_search), with Zeek's column
// names, so the detectors written for Zeek read them unchanged.
//
// # Events
//
// Record.Event gives an adjoin.v1.Event with Format "wire" and Channel "network/"+log; zeek.LogOf
// accepts both Zeek's and this package's events. Fields always hold the connection 4-tuple
// ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p") and "uid", a flow id that is stable for
// one connection within one run. Fields beyond Zeek's columns carry what only the wire shows:
// the etypes a client offered ("req_etypes"), whether it sent pre-authentication
// ("preauth"), the etype of the reply's encrypted part ("reply_cipher"), and the client a
// Kerberos ticket was issued to when the ticket is later presented in a DCE/RPC, SMB2 or LDAP
// bind ("client", matched by the ticket's ciphertext).
//
// # Bounds
//
// Packets are never stored. Each connection keeps at most MaxPDU bytes per direction while a
// message is incomplete; longer messages are decoded from their head and the rest skipped.
// At most MaxFlows connections are followed at once; a new one beyond that is counted in
// Stats.DroppedFlows and ignored. Connections idle longer than FlowIdle are closed;
// a missed segment is waited for GapWait, then skipped. The
// tables that pair requests with replies, pipes with their names and tickets with their
// clients are bounded too (oldest forgotten first).
//
// Decoders never panic on hostile input (each has a Fuzz function); a message that does not
// decode is counted in Stats.DecodeErrors and the connection's direction stops being decoded
// when its framing is lost.
package wire

// PcapUsage is the help of the --pcap flag of every command that reads captures: the flag and
// its ADJOIN_PCAP variable mean the same everywhere.
const PcapUsage = "comma-separated packet captures (pcap or pcapng) of domain controller traffic, read once and decoded by the DC traffic sensor into network-channel events"
