// Package ingest groups what only the two ingestors use: the readers of each event shape
// (winevent, zeek, sambaaudit, syslog, cef, tail), the product-alert pass-through
// (productalert) and intake, the HTTP, syslog and file doors that turn lines into events
// on DC_EVENTS or ENDPOINT_EVENTS. The correlator and the badge service import none of it
// except winevent, whose Windows event type the correlator reads logons from.
package ingest
