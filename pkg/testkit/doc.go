// Package testkit groups helpers that only tests import: Eventually (the bounded retry tests
// poll with), sample (the recordings of shared/data) and sambatest (a Samba AD domain controller
// for the LDAP and Samba tests).
// TestOnlyTestsImport keeps it that way: a non-test file importing testkit fails the build
// of the test suite, so none of it ships in a binary.
package testkit
