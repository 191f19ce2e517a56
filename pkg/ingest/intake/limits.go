package intake

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Limits on one event, checked once after parsing whatever door it came in by (HTTP, syslog,
// tailed files) and whatever parser read it. Names become lookup keys and subject tokens and
// times decide an entity's "last alert", so a hostile line must be refused with its reason
// here rather than travel on. The limits are those of the things named, with room to spare:
// real input never comes near them (the samples in shared/data peak at 43-byte channels,
// 33-byte account names, 30 fields and a 22 KB message).
const (
	// MaxHostBytes bounds a host name: a DNS name is at most 253 characters.
	MaxHostBytes = 255
	// MaxDomainBytes bounds a domain name, DNS or NetBIOS.
	MaxDomainBytes = 255
	// MaxAccountBytes bounds an account name (a sAMAccountName is at most 20 characters, a
	// UPN in practice well under this).
	MaxAccountBytes = 256
	// MaxQualifiedAccountBytes bounds a DOMAIN\account or account@domain value.
	MaxQualifiedAccountBytes = MaxDomainBytes + 1 + MaxAccountBytes
	// MaxChannelBytes bounds an event's channel (a Windows log name, a Zeek log).
	MaxChannelBytes = 255
	// MaxFieldNameBytes bounds the name of one event field.
	MaxFieldNameBytes = 256
	// MaxFieldValueBytes bounds any other field value: a Windows command line reaches 32,767
	// characters.
	MaxFieldValueBytes = 32 << 10
	// MaxFields bounds how many fields one event carries.
	MaxFields = 512
	// DefaultMaxClockSkew is how far ahead of the receive time an event or alert may be dated
	// (--max-clock-skew). Old events, such as a replay of last year's logs, are accepted.
	DefaultMaxClockSkew = 24 * time.Hour
)

// Reasons of refusal added by the limits, used in dead-letter subjects and answers.
const (
	ReasonFieldTooLong  = "field-too-long"
	ReasonTooManyFields = "too-many-fields"
	ReasonTimeInFuture  = "time-in-future"
)

// fieldLimit is the limit of an event field by the kind of name it holds, matched on the
// lower-cased field name: the fields the detectors and the device store read as host, domain
// and account names. Any other field has MaxFieldValueBytes.
func fieldLimit(name string) int {
	n := strings.ToLower(name)
	switch {
	case n == "computer" || n == "computername" || n == "hostname" || n == "workstation" ||
		n == "workstationname" || n == "dnshostname" || strings.HasSuffix(n, "hostname"):
		return MaxHostBytes
	case strings.HasSuffix(n, "domainname"):
		return MaxDomainBytes
	case strings.HasSuffix(n, "username") || n == "accountname" || n == "samaccountname":
		return MaxAccountBytes
	case n == "user" || n == "targetuser" || n == "sourceuser" || n == "parentuser":
		return MaxQualifiedAccountBytes
	}
	return MaxFieldValueBytes
}

// minFieldLimit is the smallest limit fieldLimit returns.
const minFieldLimit = min(MaxHostBytes, MaxDomainBytes, MaxAccountBytes, MaxQualifiedAccountBytes, MaxFieldValueBytes)

// checkEvent refuses an event that breaks a limit above, or whose time is more than skew
// ahead of now. It returns a *LineError, or nil.
func checkEvent(ev *adjoinv1.Event, now time.Time, skew time.Duration) error {
	if err := checkLen("host", ev.GetHost(), MaxHostBytes); err != nil {
		return err
	}
	if err := checkLen("channel", ev.GetChannel(), MaxChannelBytes); err != nil {
		return err
	}
	if n := len(ev.GetFields()); n > MaxFields {
		return &LineError{Reason: ReasonTooManyFields, Err: fmt.Errorf("%d fields, over the limit of %d", n, MaxFields)}
	}
	for name, v := range ev.GetFields() {
		if len(name) > MaxFieldNameBytes {
			return &LineError{Reason: ReasonFieldTooLong, Err: fmt.Errorf("a field name of %d bytes (%.40q...), over the limit of %d",
				len(name), name, MaxFieldNameBytes)}
		}
		// A value within the smallest limit is within its own: most are, and naming the limit
		// (a lower-cased copy of the name) and the field (the error text) cost an allocation each.
		if len(v) <= minFieldLimit {
			continue
		}
		if err := checkLen("field "+name, v, fieldLimit(name)); err != nil {
			return err
		}
	}
	if ev.GetTime() != nil {
		return checkTime("event time", ev.GetTime().AsTime(), now, skew)
	}
	return nil
}

// checkLen refuses a value longer than limit bytes.
func checkLen(what, v string, limit int) error {
	if len(v) > limit {
		return &LineError{Reason: ReasonFieldTooLong, Err: fmt.Errorf("%s: %d bytes, over the limit of %d", what, len(v), limit)}
	}
	return nil
}

// checkTime refuses t when it is more than skew ahead of now: an event dated 9999-12-31 would
// otherwise pin its entity's "last alert" for good.
func checkTime(what string, t, now time.Time, skew time.Duration) error {
	if skew <= 0 { // a caller that did not set --max-clock-skew: refuse loudly, never guess
		return &LineError{Reason: "invalid", Err: fmt.Errorf("%s: the intake's max-clock-skew is %s, not set (start from DefaultServiceConfig)", what, skew)}
	}
	if t.After(now.Add(skew)) {
		return &LineError{Reason: ReasonTimeInFuture, Err: fmt.Errorf("%s %s is more than %s ahead of the receive time %s (allowed clock skew, --max-clock-skew)",
			what, t.UTC().Format(time.RFC3339), skew, now.UTC().Format(time.RFC3339))}
	}
	return nil
}

// checkAlert refuses a product alert whose entity names break the limits above, or whose
// activity or update time is more than skew ahead of now. It returns a *LineError, or nil.
func checkAlert(a *adjoinv1.Alert, now time.Time, skew time.Duration) error {
	for i, ref := range a.GetEntities() {
		for _, f := range []struct {
			name  string
			v     string
			limit int
		}{
			{"dns_host_name", ref.GetDnsHostName(), MaxHostBytes},
			{"netbios_name", ref.GetNetbiosName(), MaxHostBytes},
			{"domain", ref.GetDomain(), MaxDomainBytes},
			{"sam_account_name", ref.GetSamAccountName(), MaxAccountBytes},
			{"upn", ref.GetUpn(), MaxQualifiedAccountBytes},
			{"sid", ref.GetSid(), MaxAccountBytes},
			{"object_guid", ref.GetObjectGuid(), MaxAccountBytes},
			{"ip", ref.GetIp(), MaxHostBytes},
			{"aad_object_id", ref.GetAadObjectId(), MaxAccountBytes},
			{"aad_device_id", ref.GetAadDeviceId(), MaxAccountBytes},
			{"edr_device_id", ref.GetEdrDeviceId(), MaxAccountBytes},
			{"cloud_vm_id", ref.GetCloudVmId(), MaxFieldValueBytes},
		} {
			if err := checkLen(fmt.Sprintf("entity %d %s", i, f.name), f.v, f.limit); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		name string
		ts   *timestamppb.Timestamp
	}{{"first activity", a.GetFirstActivity()}, {"last activity", a.GetLastActivity()}, {"update time", a.GetUpdatedTime()}} {
		if t.ts == nil {
			continue
		}
		if err := checkTime(t.name, t.ts.AsTime(), now, skew); err != nil {
			return err
		}
	}
	return nil
}

// CheckDevice refuses a device inventory record whose names break the limits above, or whose
// first or last sighting is more than skew ahead of now: duplicate records break ties on the
// last sighting, so one dated 9999 would win over every later one for good.
func CheckDevice(rec *adjoinv1.DeviceRecord, now time.Time, skew time.Duration) error {
	for _, f := range []struct {
		name  string
		v     string
		limit int
	}{
		{"dnsHostName", rec.GetDnsHostName(), MaxHostBytes},
		{"computerDnsName", rec.GetNetbiosName(), MaxHostBytes},
		{"account", rec.GetAccount(), MaxQualifiedAccountBytes},
		{"sid", rec.GetSid(), MaxAccountBytes},
		{"onboardingStatus", rec.GetOnboardingStatus(), MaxAccountBytes},
		{"id", rec.GetEdrDeviceId(), MaxAccountBytes},
	} {
		if err := checkLen(f.name, f.v, f.limit); err != nil {
			return err
		}
	}
	if ts := rec.GetFirstSeen(); ts != nil {
		if err := checkTime("firstSeen", ts.AsTime(), now, skew); err != nil {
			return err
		}
	}
	if ts := rec.GetLastSeen(); ts != nil {
		return checkTime("lastSeen", ts.AsTime(), now, skew)
	}
	return nil
}
