// Package ldapsource turns on-premises AD accounts into the adjoin.v1.Entity records that the
// correlator joins alerts on, read from a domain controller over LDAP (LDAPSync: a full read,
// then incremental ones by uSNChanged) or from an LDIF export. Both go through the same mapping
// (record.toEntity), so an account means the same whichever way it came. An LDIF export
// (ldifde, or written by hand for a lab) lets adjoin run without LDAP access to a domain
// controller, and gives demos and tests a directory built from recorded data rather than a
// live domain.
package ldapsource
