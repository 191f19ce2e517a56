package winevent

import (
	"errors"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/jsonvalue"
)

// Format names, as stored in Event.Format. They name the pipeline that wrote the line, because
// that, not the channel, decides which clock and which field names can be trusted.
const (
	FormatNXLog      = "nxlog"
	FormatPowerShell = "powershell"
	FormatEVTX       = "evtx"
	FormatECS        = "ecs"
)

// Outcome values, as stored in Event.Outcome. Several Security event IDs (4656, 4663, 5145)
// are written both for granted and for denied access, so a detector must be able to tell them
// apart without knowing each collector's keyword encoding.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Channel names as Windows writes them; compare with strings.EqualFold, because OTRF hosts
// disagree on case ("Security" and "security").
const (
	ChannelSecurity = "Security"
	ChannelSystem   = "System"
	ChannelSysmon   = "Microsoft-Windows-Sysmon/Operational"
)

// Sentinel errors returned (wrapped, with details) by Parse, so that callers can count or
// dead-letter bad lines by cause with errors.Is while the message still says what was wrong.
var (
	// ErrNotJSON means the line is not one well-formed JSON value.
	ErrNotJSON = jsonvalue.ErrNotJSON
	// ErrNotObject means the line is JSON but not an object (an array, string, number...).
	ErrNotObject = jsonvalue.ErrNotObject
	// ErrMissingField means a field every event needs (EventID, Channel, a time) is absent
	// or empty; the message names it.
	ErrMissingField = errors.New("missing field")
	// ErrInvalidField means a needed field is present but unusable: a non-numeric or
	// non-positive EventID, a Channel that is not a string, a time that does not parse.
	ErrInvalidField = errors.New("invalid field")
)

// Event is a Windows event normalised from any supported JSON shape, so that detectors read
// one set of names whichever collector delivered it.
type Event struct {
	// Format is the shape the line was read as (FormatNXLog, FormatPowerShell, FormatEVTX,
	// FormatECS); it tells the caller how far Time and Fields can be trusted.
	Format string
	// EventID is always > 0 after a successful Parse.
	EventID int
	// Channel is as written (case preserved, spaces trimmed); use the Is* methods to compare.
	Channel string
	// Provider is the event's provider (SourceName, ProviderName or winlog.provider_name), ""
	// when the line does not say. Sysmon and Security share no IDs but other channels do.
	Provider string
	// Host is the computer that wrote the event, as written: an FQDN in nxlog/evtx, a short
	// name in powershell. Not the collector: the NXLog "host" key is the WEC server.
	Host string
	// Time is the best UTC time of the event; see the package comment for the rules.
	Time time.Time
	// TimeApproximate is true when Time came from a zone-less local clock (powershell
	// TimeCreated, or nxlog EventTime without @timestamp) and may be hours off.
	TimeApproximate bool
	// LocalTime is the source's own zone-less wall clock (nxlog EventTime, powershell
	// TimeCreated) stored with the UTC location but NOT converted, zero when the shape has
	// none. It exists because it is closer to the event than nxlog's @timestamp: a caller
	// who knows the site's UTC offset can use it to place Security events to the second.
	LocalTime time.Time
	// RecordID is the channel's record number (RecordNumber, EventRecordID,
	// winlog.record_id), 0 when absent or unparsable; it orders events from one host and
	// channel and spots duplicates.
	RecordID int64
	// Outcome is OutcomeSuccess or OutcomeFailure for audit events whose keywords say so, ""
	// when the line does not tell (powershell exports, non-audit channels).
	Outcome string
	// Fields holds the event data, every value as a string; see the package comment.
	Fields map[string]string
}

// Get returns an event data field, or "" when absent, so that detectors can test values
// without a two-value map lookup; use Fields directly to tell "absent" from "empty".
func (e Event) Get(name string) string {
	return e.Fields[name]
}

// IsSecurity reports whether the event came from the Security log, ignoring case because OTRF
// hosts write both "Security" and "security".
func (e Event) IsSecurity() bool {
	return strings.EqualFold(e.Channel, ChannelSecurity)
}

// IsSystem reports whether the event came from the System log (service installs, 7045),
// ignoring case for the same reason as IsSecurity.
func (e Event) IsSystem() bool {
	return strings.EqualFold(e.Channel, ChannelSystem)
}

// IsSysmon reports whether the event came from Sysmon's operational log, ignoring case; Sysmon
// event IDs (1, 3, 10...) collide with other providers', so the channel must be checked first.
func (e Event) IsSysmon() bool {
	return strings.EqualFold(e.Channel, ChannelSysmon)
}
