// Package entity holds the rules for naming on-premises AD users and computers: the stable
// key, and the normalised forms of SIDs, GUIDs, DOMAIN\sam, UPNs, FQDNs and NetBIOS names under
// which the directory index and every service compare them. Names compare case-insensitively.
package entity
