// Package sambaaudit reads the JSON audit events a Samba Active Directory domain controller
// writes into its log file, and turns each into an adjoin.v1.Event that the identity
// detectors read as they read a Windows domain controller's Security events.
//
// # The log
//
// With `log level = 1 auth_json_audit:3 dsdb_json_audit:5 dsdb_password_json_audit:5
// dsdb_group_json_audit:5` (and `logging = file`), Samba writes its audit events into its
// log file among its own messages:
//
//	[2026/11/28 09:54:03.092625,  0] ../../source4/samba/server.c:621(binary_smbd_main)
//	  samba version 4.17.12-Debian started.
//	  {"timestamp": "2026-11-28T09:56:19.117196+0000", "type": "Authentication", "Authentication": {...}}
//	  /usr/sbin/samba_spnupdate: {"timestamp": "2026-11-28T09:54:04.822620+0000", "type": "dsdbChange", ...
//	  /usr/sbin/samba_spnupdate: bHost/ADJOINDC"}, {"value": ...}]}]}}}}
//
// Parse tells each line apart: a header ("[date,  level] file:line(function)"), Samba's own
// indented text, a piece of a subprocess's output that Samba relays ("program: ..."), or an
// audit event (a JSON object, indented, bare, or after a header when `debug prefix timestamp`
// puts both on one line). Samba relays a subprocess's output in chunks of its own size, so
// an event relayed that way is usually split across several log records: a relayed line that
// holds a whole event is read, any other relayed piece is a Fragment and skipped. Only a line
// that starts as a JSON object and is not a valid audit event (truncated, malformed, without
// timestamp or type) is an error.
//
// # Events
//
// Event.Adjoin maps an audit event onto the Windows event the detectors know; see
// Event.Adjoin for the table. Every field of Samba's own object is kept under "samba.".
package sambaaudit
