// Package zeek reads Zeek (Bro) network logs — kerberos, ntlm, dce_rpc, smb_mapping, ldap and,
// generically, any other log such as smb_files or conn — in both of the encodings sensors
// ship, and turns each log line into one Record with Zeek's own column names, so that
// identity detectors read the same names whichever writer produced the line.
//
// # Encodings
//
// JSON (ParseJSON): one object per line. The log's name is "@stream" (the streaming-JSON
// writer used by OTRF's APT29 replay, which also writes "@system" and "@proc") or "_path"
// (Zeek's own JSON writer and Corelight's, which may add "_system_name" and "_write_ts").
// Keys beginning with "@" or "_" are envelope, not columns, and are left out of Fields.
// Nested objects ({"id":{"orig_h":…}}) are flattened with dots.
//
// TSV (TSVReader): Zeek's default ASCII format. "#separator" (written with \xHH escapes),
// "#set_separator", "#empty_field", "#unset_field", "#path", "#fields" and "#types" headers
// are kept across lines, so several logs concatenated into one stream read correctly; a
// "#separator" line starts a new log and forgets the previous columns. Zeek's "tsv=T" mode,
// which writes a bare column-name row instead of "#fields", is not supported.
//
// # Column names
//
// Fields uses Zeek's dotted names for columns of nested records: "id.orig_h", "id.resp_p",
// "times.modified". Writers that replace the dots with underscores ("id_orig_h", as in the
// APT29 samples) are mapped back for the nested records Zeek's identity-relevant logs use
// (id, times, and x509's certificate, san and basic_constraints); any other name is kept as
// written, because an underscore is also an ordinary character in Zeek names ("request_type",
// "orig_h"). When a line holds both spellings, the one written with dots wins.
//
// # Values
//
// Every value is a string, in the form Zeek's ASCII writer uses, so that a detector's
// comparison holds for both encodings:
//
//   - unset ("-" in TSV, null or absent in JSON): the column is absent from Fields; use the
//     two-value map lookup to tell it from an empty value.
//   - empty ("(empty)" in TSV, "" or [] in JSON): present with value "".
//   - bool: "T" or "F" (JSON true/false are rewritten).
//   - numbers, times and intervals: as written ("1588205199.832602", "445", "2136422885.0").
//   - set and vector columns: the elements joined with ",", whatever #set_separator the
//     file used. An element that itself holds a comma is not escaped, so such values are
//     ambiguous; none of the logs above has such sets.
//   - strings: TSV \xHH escapes are decoded ("\x5c\x5cDC01\x5cIPC$" becomes `\\DC01\IPC$`).
//     A value whose decoded bytes are not valid UTF-8 keeps its escaped form, because
//     protobuf strings must be UTF-8.
//
// # Time, uid, sensor
//
// Record.Time is the "ts" column, required in every line: epoch seconds with a fraction (the
// default) or an RFC 3339 string (JSON::TS_ISO8601), always in UTC. Record.UID is the "uid"
// column ("" for logs without one); it stays in Fields too. Record.Sensor is the capture
// point ("@system" or "_system_name") and is empty for TSV, which does not name it.
//
// The same connection seen by several sensors is written once per sensor. The APT29 samples
// show that each sensor's Zeek gives it its own uid (a few milliseconds apart), so consumers
// that deduplicate must compare the connection 4-tuple and time as well as the uid.
//
// # Log name
//
// Record.Log is "@stream", "_path" or the TSV "#path". A line that names no log is
// recognised by its columns (endpoint+operation is dce_rpc, request_type is kerberos, and so
// on; see inferLog), and refused with ErrMissingField when they match no known log. Log
// names are letters, digits and "_", ".", "-", ":".
//
// # Errors
//
// ParseJSON fails with ErrNotJSON, ErrNotObject, ErrMissingField or ErrInvalidField, wrapped
// with the offending field. TSVReader.Next returns the line number with every record and
// error; a bad line (ErrNoHeader, ErrBadHeader, ErrColumnCount, ErrLineTooLong,
// ErrMissingField, ErrInvalidField) is reported and skipped, and the next call reads on.
// Only a failure of the underlying reader, or io.EOF, ends the stream.
package zeek
