// Package productalert passes alerts raised by identity and endpoint security products through
// as adjoin alerts, so they are counted and joined like adjoin's own detections.
//
// Two shapes are read: Microsoft Graph security alerts (alerts_v2, one alert or a {"value":
// [...]} page) and the CEF lines such products forward over syslog. The side comes from the
// product: Defender for Identity (and its older names, Azure ATP and ATA) is the identity side,
// Defender for Endpoint the endpoint side; other products are refused with ErrUnsupported, which
// callers count and otherwise ignore.
//
// Ids and versions follow the alert contract: the alert id is entity.HashID(source, product
// alert id), so the same product alert always maps to the same adjoin alert whichever way it
// arrives and however often, and the version is the product's last-update time in
// milliseconds, so a status change (new, in progress, resolved) is a newer version of the same
// alert and never a new alert.
//
// Entity references keep every name the product gives (SID, account and domain, UPN, host
// names, addresses) and its cloud ids (Azure AD object and device ids, Defender device id,
// cloud VM id). A user the product knows only by cloud ids (no on-prem SID) keeps only those
// and the UPN, so the correlator can tell it is cloud-only and exclude it.
package productalert
