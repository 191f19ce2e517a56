// Package demo carries the demo directory of `adjoin dev`: the users and computers of the OTRF
// "Shire" lab (theshire.local) that recorded the attack samples in shared/data.
package demo

import _ "embed"

// TheShireLDIF is the lab's directory as an ldifde-style export; its header says where every
// value comes from.
//
//go:embed theshire.ldif
var TheShireLDIF []byte
