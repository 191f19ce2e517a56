package detect

import "github.com/adjoin/adjoin/pkg/detection"

// WithCredEpisodes makes the credential detectors among ds share one CredEpisodes table, so
// one theft raises one alert, and returns the credential detectors that need it and are not
// in ds yet (credential-store-dump, credential-dump-script, lsass-silent-process-exit), on
// the same table; procs names the writers of copied stores.
func WithCredEpisodes(procs *Processes, ds []detection.Detector) []detection.Detector {
	episodes := NewCredEpisodes()
	for _, d := range ds {
		switch d := d.(type) {
		case *LSASSAccess:
			d.Episodes = episodes
		case *LSASSDumpComsvcs:
			d.Episodes = episodes
		case *CredentialToolCommandLine:
			d.Episodes = episodes
		case *LSASecretsDump:
			d.Episodes = episodes
		}
	}
	stores, script, silent := NewCredentialStoreDump(), NewCredentialDumpScript(), NewLSASSSilentProcessExit()
	stores.Episodes, stores.Procs, script.Episodes = episodes, procs, episodes
	return []detection.Detector{stores, script, silent}
}
