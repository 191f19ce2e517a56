// Package detection runs detectors over a stream of normalised events and publishes the alerts
// they raise. The same Detector values run online (Runner, consuming DC_EVENTS or
// ENDPOINT_EVENTS) and offline (`adjoin detect`, over files), so both give the same alerts.
package detection
