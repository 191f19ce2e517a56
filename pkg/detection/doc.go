// Package detection runs detectors over a stream of normalised events and publishes the alerts
// they raise. The same Detector values run online (Runner, consuming DC_EVENTS or
// ENDPOINT_EVENTS) and offline (`adjoin detect`, over files), so both give the same alerts.
//
// It also holds what the detectors of both ingestors share, written once: Burst (distinct
// values per key within a window), NewAlert (the fields every new alert has), EvidenceCap (the
// evidence one alert may carry), Entry (per-session or per-host state in a bounded.Map),
// EpisodeID, Refs and the entity references of hosts and users.
package detection
