// Package winevent turns one NDJSON line holding a Windows event (Security, System, Sysmon or
// any other channel) into one normalised Event, whatever pipeline wrote the line. Detectors
// then read the same field names, host and UTC time from every source instead of learning
// each collector's quirks.
//
// # Shapes and how they are told apart
//
// The shape is chosen from the envelope keys present, first match wins:
//
//  1. "ecs": a "winlog" key (Winlogbeat/ECS: winlog.event_id, winlog.channel,
//     winlog.computer_name, winlog.record_id, winlog.provider_name, winlog.event_data.*,
//     @timestamp), or the same names flattened into dotted top-level keys.
//  2. "evtx": "Computer" together with "EventRecordID" or a zoned (RFC 3339) "TimeCreated" —
//     the EVTX→NDJSON conversion in shared/data/tools.
//  3. "nxlog": "Hostname" together with "EventTime" or "@timestamp" — OTRF's
//     NXLog→Logstash flat JSON.
//  4. "powershell": "Hostname" together with a zone-less "TimeCreated" — OTRF's 2020-10
//     PowerShell export.
//
// Lines that match none of these still get a shape from whatever they carry (a zoned
// TimeCreated or Computer means evtx, EventTime/@timestamp/Hostname means nxlog, any other
// TimeCreated means powershell), so that the error names the field that is really missing.
//
// # Time
//
// Event.Time is the best UTC instant the line offers:
//
//   - Sysmon events: the event's own UtcTime (millisecond, UTC) wins over any envelope clock,
//     because Sysmon writes it from the kernel event and every shape carries it. A missing or
//     malformed UtcTime falls back to the envelope rule below, and so does one a time zone's
//     offset away (15 minutes or more, a whole number of quarter hours within 5 s) from the
//     event's own zoned creation time (EVTX or NXLog TimeCreated, ECS @timestamp): it was
//     written in another zone (the pandalab recordings of otrf/more carry UtcTime 7 h off
//     every channel's clock). NXLog's @timestamp, an ingest time, is never such a judge.
//   - evtx: TimeCreated (the EVTX SystemTime, UTC).
//   - ecs: @timestamp (Winlogbeat sets it to the record's creation time, UTC).
//   - nxlog: @timestamp. It is Logstash's ingest time, not the event time: OTRF describes it as
//     1–3 s late, but in the shared data about one Security event in five is more than 4 s
//     late (up to ~17 s, in S2, S4 and the background file) and Sysmon events up to ~43 s.
//     Correlation windows over nxlog Security events must allow for that. EventTime is the
//     event's own clock, to the second, but site-local with no zone, so it cannot be turned
//     into UTC here; it is returned in Event.LocalTime for callers who know the site's
//     offset. Only when @timestamp is absent is EventTime used, as for powershell.
//   - powershell: TimeCreated is local time on a 12-hour clock with AM/PM dropped
//     ("07:50:05" may be 07:50 or 19:50 local), so no offset can recover UTC. It is parsed
//     as-is, labelled UTC, and TimeApproximate is set: such a Time is only good for ordering
//     events within one file, or for matching to a same-second Sysmon UtcTime.
//
// # Fields
//
// Fields holds the event data as strings: JSON strings as written, numbers with their literal
// JSON text (so 64-bit values survive exactly), booleans "true"/"false", null as "", nested
// objects and arrays as compact JSON. Keys that are clearly envelope — the ones mapped onto
// Event's own fields and collector metadata such as Keywords, Task, Opcode, @version, tags,
// the WEC "host" — are left out. Two NXLog traps are undone here: NXLog's own EventType
// (INFO, AUDIT_SUCCESS) is dropped while Sysmon's registry/pipe EventType is kept, and the
// NXLog account lookup of the System UserID (AccountName, Domain, AccountType, UserID) is
// dropped, because it names the logging service, not the actor, and in System 7045 it
// overwrote the real AccountName.
package winevent
