package adjoin

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// devLockFile is the file `adjoin dev` holds locked in its data directory while it runs.
const devLockFile = "adjoin-dev.lock"

// lockDevDir takes the lock of an `adjoin dev` data directory, so that a second `adjoin dev`
// (on other ports) cannot open the same JetStream store. The lock is released by unlock or when
// the process ends, however it ends. The file holds the owner's process id, for the error.
func lockDevDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, devLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("dir %s is in use by another adjoin dev (pid %s): stop it, or give this one its own --dir",
				dir, strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("dir: lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) //nolint:errcheck // the pid is only for the message above
	}
	return func() { f.Close() }, nil
}

// checkPortFree fails with the flag's name when host:port cannot be listened on, so that a port
// in use is named at once rather than found by a server that never becomes ready.
func checkPortFree(flag, host string, port int) error {
	if port <= 0 {
		return nil // a random port
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return portError(flag, host, port, err)
	}
	return l.Close()
}

// portError says which setting's port could not be opened, and what to do when it is in use.
func portError(flag, host string, port int, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--%s: port %d in use on %s (another adjoin dev or NATS server?): stop it, or pass --%s with a free port",
			flag, port, host, flag)
	}
	return fmt.Errorf("--%s: %w", flag, err)
}
