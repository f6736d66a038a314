package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// A broker with several client listeners (listeners=INTERNAL://...,
// EXTERNAL://...) advertises each at its own address; Kafka answers a
// client with the addresses of the listener it connected to, and leaves
// out the brokers that have no such listener. These helpers do that for
// every answer that names brokers: Metadata, DescribeCluster,
// FindCoordinator, and the leader hints of Produce and Fetch (KIP-951).

// listenerOf is the name of the listener req came in on, "" if unknown
// (which answers with each broker's inter-broker address).
func listenerOf(req *wire.Request) string {
	if req.Conn == nil {
		return ""
	}
	return req.Conn.Listener
}

// brokerOn is broker id's address on listener, if it is registered and
// has that listener.
func brokerOn(img *metadata.Image, id int32, listener string) (metadata.Broker, string, int32, bool) {
	b, ok := img.Brokers[id]
	if !ok {
		return b, "", 0, false
	}
	host, port, ok := b.Endpoint(listener)
	return b, host, port, ok
}

// leadersOn answers a partition whose leader has no listener of that name
// as Kafka does: no leader, and LISTENER_NOT_FOUND from Metadata v6
// (LEADER_NOT_AVAILABLE before), so the client does not send to an
// address it was never given.
func leadersOn(img *metadata.Image, listener string, version int16, topics []kmsg.MetadataResponseTopic) {
	if listener == "" {
		return
	}
	code := kerr.ListenerNotFound.Code
	if version < 6 {
		code = kerr.LeaderNotAvailable.Code
	}
	for i := range topics {
		for j := range topics[i].Partitions {
			p := &topics[i].Partitions[j]
			if p.ErrorCode != 0 || p.Leader < 0 {
				continue
			}
			// An unregistered leader is answered as it was; one
			// without the listener has none here.
			if b, ok := img.Brokers[p.Leader]; ok {
				if _, _, has := b.Endpoint(listener); !has {
					p.ErrorCode, p.Leader = code, -1
				}
			}
		}
	}
}
