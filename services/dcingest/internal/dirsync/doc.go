// Package dirsync keeps the adjoin_directory bucket in step with the DC ingestor's sources and
// says how each attempt went in adjoin_status: StartLDAP runs the sync from a domain controller
// (a full read, then incremental ones, retried with a growing delay while the last good
// directory stays), RecordLDIF records an LDIF import. What an account becomes is
// ldapsource's; writing the bucket is adapters'.
package dirsync
