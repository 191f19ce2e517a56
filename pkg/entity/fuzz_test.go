package entity

import (
	"testing"
)

// FuzzNames checks the parsers of the names a badge selector, an alert or a directory export
// may carry (SIDs, GUIDs, DOMAIN\sam and UPN accounts, host names): they never panic, and a
// normalised SID or GUID is a fixed point, so keys made from it are stable.
func FuzzNames(f *testing.F) {
	for _, s := range []string{
		"S-1-5-21-3669966080-2286457517-972388166-1104", "s-1-5-18", "S-1-0x123456789abc-1", "S-1-5-21-",
		"{8f8a4b2c-0000-4d6e-9f00-123456789abc}", "8F8A4B2C00004D6E9F00123456789ABC",
		`THESHIRE\pgustavo`, "pgustavo@theshire.local", `\`, "@", "WORKSTATION6.theshire.local", "WORKSTATION6$", ".", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := NormalizeSID(s); n != "" {
			if again := NormalizeSID(n); again != n {
				t.Fatalf("NormalizeSID(%q) = %q, but NormalizeSID(%q) = %q", s, n, n, again)
			}
			if !IsSID(n) {
				t.Fatalf("IsSID(%q) false for a normalised SID", n)
			}
		}
		if n := NormalizeGUID(s); n != "" {
			if again := NormalizeGUID(n); again != n {
				t.Fatalf("NormalizeGUID(%q) = %q, but NormalizeGUID(%q) = %q", s, n, n, again)
			}
		}
		domain, sam := SplitAccount(s)
		_ = DomainSAM(domain, sam)
		nb, fqdn := HostNames(s)
		// A name key said exact by NameKeyRef names what it was made from: keyed again, the
		// name gives the same key. Any string is a key it must not panic on.
		_, _ = NameKeyRef(s)
		for _, key := range []string{UserNameKey(domain, sam), HostNameKey(nb), HostNameKey(fqdn)} {
			ref, exact := NameKeyRef(key)
			if ref == nil || !exact {
				continue
			}
			again := HostNameKey(ref.GetDnsHostName() + ref.GetNetbiosName())
			if ref.GetSamAccountName() != "" {
				again = UserNameKey(SplitAccount(ref.GetSamAccountName()))
			}
			if again != key {
				t.Fatalf("NameKeyRef(%q) = %v, exact, which keys to %q", key, ref, again)
			}
		}
		_ = IsMachineAccount(s)
		_ = Fold(s)
	})
}
