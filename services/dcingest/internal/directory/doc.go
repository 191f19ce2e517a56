// Package directory turns on-premises AD exports into the adjoin.v1.Entity records that the
// correlator joins alerts on. An LDIF export (ldifde, or written by hand for a lab) lets adjoin
// run without LDAP access to a domain controller, and gives demos and tests a directory built
// from recorded data rather than a live domain.
package directory
