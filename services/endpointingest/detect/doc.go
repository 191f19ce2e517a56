// Package detect holds the endpoint-side detectors: rules over Sysmon and endpoint Security
// events that raise adjoin.v1.Alert values. It is importable so that `adjoin detect` runs the
// same rules offline.
package detect
