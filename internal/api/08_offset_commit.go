package api

// OffsetCommit, versions 0-9.
//
// v1 adds the generation, member id and a per-partition commit timestamp;
// v2-v4 a retention time (-1: the broker's offsets.retention.minutes),
// dropped in v5 (KIP-211); v3 throttle time; v6 the committed leader epoch
// (KIP-320); v7 group.instance.id (KIP-345); v8 flexible; v9 is v8 for a
// classic group (it exists for KIP-848 groups, whose member epoch takes the
// generation's place). v10 names topics by id and is KIP-848 only.
// The empty group id is a valid group, as Kafka keeps it for consumers
// that committed with group.id="" before KIP-289.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(8, 0, 9, (*Handler).offsetCommit) }

func (h *Handler) offsetCommit(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.OffsetCommitRequest)
	if h.Groups == nil {
		resp := kmsg.NewPtrOffsetCommitResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.CoordinatorNotAvailable.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return respond(req, resp)
	}
	// The commit is appended now, in request order; the answer waits for
	// its replication (offsets.commit.timeout.ms at most), outside every
	// lock of the coordinator.
	wait := h.Groups.StartCommitOffsets(r)
	return func(ctx context.Context) wire.Response {
		return wire.Response{Msg: versioned(req, wait(ctx))}
	}
}
