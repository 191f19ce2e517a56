package app

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// MaxAnswerBytes bounds what one unary answer may hold: 4 MiB is the most a gRPC client
// accepts by default, so a larger answer would be built, sent, and then refused by the client
// with RESOURCE_EXHAUSTED, for nothing. BatchGetBadges and ListEntityAlerts stay under it
// whatever the entities hold (large group memberships, large alerts).
const MaxAnswerBytes = 4 << 20

// answerReserve is kept out of the budget for an answer's fields other than its list
// (total_size, next_page_token).
const answerReserve = 1 << 10

// elementSize is the size of m as one element of a repeated message field numbered below 16
// (a one-byte tag), which is how results and alerts are carried.
func elementSize(m proto.Message) int {
	return protowire.SizeTag(1) + protowire.SizeBytes(proto.Size(m))
}
