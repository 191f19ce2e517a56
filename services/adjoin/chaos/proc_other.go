//go:build !linux

package chaos

import "os/exec"

// dieWithParent does nothing outside Linux: a test that times out may leave its children.
func dieWithParent(*exec.Cmd) {}

// peakRSS is not known outside Linux.
func peakRSS(int) int64 { return 0 }
