package cef

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadTime means a timestamp field is in none of the forms ParseTime reads.
var ErrBadTime = errors.New("unrecognised CEF timestamp")

// timeLayouts are the CEF dictionary's date forms that carry a year, then ISO 8601 as
// Defender for Identity writes it (start=2018-02-21T14:19:41.7422810Z). The forms without a
// year are refused: guessing the year of an alert is worse than having no time.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"Jan _2 2006 15:04:05.000 MST",
	"Jan _2 2006 15:04:05.000 -0700",
	"Jan _2 2006 15:04:05.000",
	"Jan _2 2006 15:04:05 MST",
	"Jan _2 2006 15:04:05 -0700",
	"Jan _2 2006 15:04:05",
}

// ParseTime reads a CEF timestamp (rt, start, end, deviceCustomDate1, ...): milliseconds since
// the epoch, "MMM dd yyyy HH:mm:ss[.SSS] [zone]" or ISO 8601. A time without a zone is UTC.
// The result is in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrBadTime
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		// Bounded so that the result stays within what a Timestamp can hold.
		if ms < 0 || ms > 253402300799999 {
			return time.Time{}, ErrBadTime
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			if t = t.UTC(); t.Year() < 1 || t.Year() > 9999 {
				return time.Time{}, ErrBadTime
			}
			return t, nil
		}
	}
	return time.Time{}, ErrBadTime
}

// Time returns the first of the named extension fields that holds a readable timestamp.
func (e Event) Time(keys ...string) (time.Time, bool) {
	for _, k := range keys {
		if v, ok := e.Ext[k]; ok {
			if t, err := ParseTime(v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
