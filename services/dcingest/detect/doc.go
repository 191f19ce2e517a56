// Package detect holds the identity-side detectors: rules over domain-controller events that
// raise adjoin.v1.Alert values. It is importable so that `adjoin detect` runs the same rules
// offline.
package detect
