package chaos

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the child killed when the test process dies, so a test that times out
// (and so runs no cleanup) leaves no server or service behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
