package group

import (
	"encoding/binary"
	"errors"
)

// consumerProtocolType is the protocol type of Kafka consumers (as opposed
// to Connect workers, Streams uses it too). Only for it does the broker look
// inside member metadata: to learn the subscribed topics, which decide
// OffsetDelete's GROUP_SUBSCRIBED_TO_TOPIC and which offsets of a Stable
// group may expire (KIP-496). Everything else is relayed as opaque bytes.
const consumerProtocolType = "consumer"

var errBadSubscription = errors.New("group: malformed consumer protocol subscription")

// subscribedTopics parses the topics of a consumer protocol subscription.
// Like Kafka it reads only the version-0 prefix (version, topics, user
// data), which every later version extends, so future versions parse too.
// The metadata comes from clients: it is bounds-checked, never trusted, and
// allocates at most what its own length allows.
func subscribedTopics(b []byte) ([]string, error) {
	if len(b) < 2+4 {
		return nil, errBadSubscription
	}
	if int16(binary.BigEndian.Uint16(b)) < 0 {
		return nil, errBadSubscription
	}
	n := int32(binary.BigEndian.Uint32(b[2:]))
	b = b[6:]
	// Each topic takes at least its 2-byte length.
	if n < 0 || int64(n)*2 > int64(len(b)) {
		return nil, errBadSubscription
	}
	topics := make([]string, 0, n)
	for range n {
		if len(b) < 2 {
			return nil, errBadSubscription
		}
		l := int16(binary.BigEndian.Uint16(b))
		b = b[2:]
		if l < 0 || int(l) > len(b) {
			return nil, errBadSubscription
		}
		topics = append(topics, string(b[:l]))
		b = b[l:]
	}
	// User data: nullable bytes (any negative length is null). Kafka
	// fails the whole parse when it is truncated, and so do we.
	if len(b) < 4 {
		return nil, errBadSubscription
	}
	if l := int32(binary.BigEndian.Uint32(b)); int64(l) > int64(len(b)-4) {
		return nil, errBadSubscription
	}
	return topics, nil
}
