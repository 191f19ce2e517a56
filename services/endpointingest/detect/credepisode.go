package detect

import (
	"strconv"
	"time"

	"github.com/adjoin/adjoin/pkg/detection"
	"github.com/adjoin/adjoin/pkg/entity"
)

// CredEpisodes groups the traces of one credential theft that several detectors see, so they
// raise one alert rather than one each: the command line of a dumper (credential-tool-command-line,
// lsass-dump-comsvcs), its handle on lsass.exe (lsass-access), the dump file it writes, a
// script block of the same PowerShell process, and the copies of credential stores made on one
// host within minutes (credential-store-dump, lsa-secrets-dump). Keys are a host and process
// id, a host and a store, a host and an image (see detection.Episodes).
type CredEpisodes = detection.Episodes

// NewCredEpisodes returns a table with a 10 minute window (a process id reused after it is a
// new process) and 20000 keys.
func NewCredEpisodes() *CredEpisodes { return detection.NewEpisodes(10*time.Minute, 20_000) }

// credProcessKey names a process on a host by its id, which Sysmon (decimal), Security
// (hexadecimal) and PowerShell's envelope all carry; "" when the id does not parse or is 0.
func credProcessKey(host, pid string) string {
	n, err := strconv.ParseUint(pid, 10, 64)
	if err != nil {
		n = credLogonNumber(pid) // "0x12d8"
	}
	if n == 0 {
		return ""
	}
	nb, _ := entity.HostNames(host)
	return nb + "|pid:" + strconv.FormatUint(n, 10)
}

// credImageKey names the processes of one image (by base name) on a host.
func credImageKey(host, image string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|image:" + detection.BaseName(image)
}

// credStoreKey names a class of credential store (ntds, hives) copied on a host.
func credStoreKey(host, store string) string {
	nb, _ := entity.HostNames(host)
	return nb + "|store:" + store
}

// credKeys drops empty keys.
func credKeys(keys ...string) []string {
	out := keys[:0:0]
	for _, k := range keys {
		if k != "" {
			out = append(out, k)
		}
	}
	return out
}
