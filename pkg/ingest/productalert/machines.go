package productalert

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/adjoin/adjoin/pkg/entity"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// Onboarding statuses of DeviceRecord.onboarding_status that come from the Defender for
// Endpoint machine inventory. The badge greys an entity whose device is only discovered
// (can_be_onboarded), unsupported or insufficiently known.
const (
	OnboardingOnboarded        = "onboarded"
	OnboardingCanBeOnboarded   = "can_be_onboarded"
	OnboardingUnsupported      = "unsupported"
	OnboardingInsufficientInfo = "insufficient_info"
)

// mdeOnboarding maps the API's onboardingStatus (lower case) to adjoin's.
var mdeOnboarding = map[string]string{
	"onboarded":        OnboardingOnboarded,
	"canbeonboarded":   OnboardingCanBeOnboarded,
	"unsupported":      OnboardingUnsupported,
	"insufficientinfo": OnboardingInsufficientInfo,
}

// FromMachines converts the Defender for Endpoint machines API (GET /api/machines): one
// machine, a JSON array, or a {"value": [...]} page, into device records of kind COMPUTER with
// no key (the store keys them by what the directory knows). Like FromGraphAlert it returns the
// records it could convert and an Errors listing the others (ErrInvalid): a machine without a
// name cannot be joined to a directory computer, and one without a known onboardingStatus
// would either grey or light a badge on a guess.
func FromMachines(b []byte) ([]*adjoinv1.DeviceRecord, error) {
	items, err := graphItems(b)
	if err != nil {
		return nil, err
	}
	var out []*adjoinv1.DeviceRecord
	var errs Errors
	for i, raw := range items {
		var m mdeMachine
		if err := json.Unmarshal(raw, &m); err != nil {
			errs = append(errs, &ItemError{Index: i, Err: fmt.Errorf("%w: %v", ErrInvalid, err)})
			continue
		}
		rec, err := m.record()
		if err != nil {
			errs = append(errs, &ItemError{Index: i, ID: string(m.ID), Err: err})
			continue
		}
		out = append(out, rec)
	}
	if len(errs) > 0 {
		return out, errs
	}
	return out, nil
}

// mdeMachine is the part of the machine resource that adjoin uses (aadDeviceId and osPlatform
// are read for the shape check only: DeviceRecord has no place for them).
type mdeMachine struct {
	ID               flexString `json:"id"`
	ComputerDNSName  string     `json:"computerDnsName"`
	OnboardingStatus string     `json:"onboardingStatus"`
	FirstSeen        string     `json:"firstSeen"`
	LastSeen         string     `json:"lastSeen"`
	AadDeviceID      string     `json:"aadDeviceId"`
	OSPlatform       string     `json:"osPlatform"`
}

func (m *mdeMachine) record() (*adjoinv1.DeviceRecord, error) {
	nb, fqdn := entity.HostNames(m.ComputerDNSName)
	if nb == "" {
		return nil, fmt.Errorf("%w: machine without computerDnsName", ErrInvalid)
	}
	st, ok := mdeOnboarding[strings.ToLower(strings.TrimSpace(m.OnboardingStatus))]
	if !ok {
		return nil, fmt.Errorf("%w: onboardingStatus %q is not one of Onboarded, CanBeOnboarded, Unsupported, InsufficientInfo",
			ErrInvalid, clip(m.OnboardingStatus))
	}
	first, err := graphTime("firstSeen", m.FirstSeen)
	if err != nil {
		return nil, err
	}
	last, err := graphTime("lastSeen", m.LastSeen)
	if err != nil {
		return nil, err
	}
	return &adjoinv1.DeviceRecord{
		Kind:             adjoinv1.EntityKind_ENTITY_KIND_COMPUTER,
		DnsHostName:      fqdn,
		NetbiosName:      strings.ToUpper(nb),
		EdrDeviceId:      strings.TrimSpace(string(m.ID)),
		OnboardingStatus: st,
		FirstSeen:        stamp(first),
		LastSeen:         stamp(last),
	}, nil
}
