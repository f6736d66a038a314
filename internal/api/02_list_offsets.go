package api

// ListOffsets, versions 1-8.
//
// v1 one offset per partition with its timestamp; v2 isolation level; v4
// current leader epoch (KIP-320) and the leader epoch in the answer; v6
// flexible; v7 max timestamp, -3 (KIP-734); v8 earliest local, -4
// (KIP-405; without tiered storage it is the log start offset).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(2, 1, 8, (*Handler).listOffsets) }

func (h *Handler) listOffsets(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ListOffsetsRequest)
	resp := kmsg.NewPtrListOffsetsResponse()
	img := h.image()
	for _, rt := range r.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		t := img.Topics[rt.Topic]
		seen := map[int32]bool{}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
			switch {
			case seen[rp.Partition]:
				sp.ErrorCode = kerr.InvalidRequest.Code
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions):
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.Timestamp == -3 && req.Version < 7, rp.Timestamp == -4 && req.Version < 8:
				sp.ErrorCode = kerr.UnsupportedVersion.Code
			default:
				p := h.leaderReplica(rt.Topic, rp.Partition)
				if p == nil {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
					break
				}
				cur := p.LeaderEpoch()
				if rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < cur {
					sp.ErrorCode = kerr.FencedLeaderEpoch.Code
					break
				}
				if rp.CurrentLeaderEpoch > cur {
					sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
					break
				}
				off, ts, err := p.ListOffset(rp.Timestamp, r.IsolationLevel == 1)
				if err != nil {
					sp.ErrorCode = h.code(err)
					break
				}
				sp.Offset, sp.Timestamp = off, ts
				if off >= 0 {
					sp.LeaderEpoch = cur
				}
			}
			seen[rp.Partition] = true
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}
