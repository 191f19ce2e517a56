package cef

import "strconv"

// Format is the adjoin.v1.Event format of events read from CEF lines.
const Format = "cef"

// Keys of the header fields in a flat field map (Fields, FromFields). The "cef." prefix keeps
// them apart from extension keys, which are plain names like suser or cs1Label.
const (
	KeyVersion       = "cef.version"
	KeyVendor        = "cef.deviceVendor"
	KeyProduct       = "cef.deviceProduct"
	KeyDeviceVersion = "cef.deviceVersion"
	KeySignatureID   = "cef.signatureId"
	KeyName          = "cef.name"
	KeySeverity      = "cef.severity"
)

// Fields flattens e into one map: the extension, and the header under the Key* names (which
// win over an extension key of the same name). adjoin stores CEF events so, as
// adjoin.v1.Event fields.
func (e Event) Fields() map[string]string {
	out := make(map[string]string, len(e.Ext)+7)
	for k, v := range e.Ext {
		out[k] = v
	}
	out[KeyVersion] = strconv.Itoa(e.Version)
	out[KeyVendor] = e.Vendor
	out[KeyProduct] = e.Product
	out[KeyDeviceVersion] = e.DeviceVersion
	out[KeySignatureID] = e.SignatureID
	out[KeyName] = e.Name
	out[KeySeverity] = e.Severity
	return out
}

// FromFields rebuilds an Event from a map written by Fields; ok is false when the map has no
// CEF header (no vendor and product). Keys other than the header's become the extension, so a
// caller that added its own keys removes them first.
func FromFields(f map[string]string) (e Event, ok bool) {
	vendor, okV := f[KeyVendor]
	product, okP := f[KeyProduct]
	if !okV || !okP {
		return Event{}, false
	}
	e = Event{
		Vendor: vendor, Product: product, DeviceVersion: f[KeyDeviceVersion], SignatureID: f[KeySignatureID],
		Name: f[KeyName], Severity: f[KeySeverity], Ext: make(map[string]string, len(f)),
	}
	e.Version, _ = strconv.Atoi(f[KeyVersion])
	for k, v := range f {
		switch k {
		case KeyVersion, KeyVendor, KeyProduct, KeyDeviceVersion, KeySignatureID, KeyName, KeySeverity:
		default:
			e.Ext[k] = v
		}
	}
	return e, true
}
