package api

// OffsetFetch, versions 0-9.
//
// v1 is v0 (Kafka-stored offsets only); v2 a top-level error code and a
// null topic list meaning "every committed partition"; v3 throttle time; v5
// the committed leader epoch (KIP-320); v6 flexible; v7 require_stable
// (KIP-447: a partition with an offset pending in an open transaction
// answers UNSTABLE_OFFSET_COMMIT, which the consumer retries, instead of
// the committed offset the transaction may replace); v8 several groups per
// request (KIP-709), require_stable applying to each; v9 a member id and
// epoch, checked only for KIP-848 groups. v10 names topics by id.
// Below v2 a group-level error is reported on every requested partition.
// The empty group id is a valid group (see OffsetCommit).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(9, 0, 9, (*Handler).offsetFetch) }

func (h *Handler) offsetFetch(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.OffsetFetchRequest)
	resp := kmsg.NewPtrOffsetFetchResponse()
	if req.Version >= 8 {
		for _, rg := range r.Groups {
			var topics []group.TopicPartitions
			if rg.Topics != nil {
				topics = make([]group.TopicPartitions, 0, len(rg.Topics))
				for _, t := range rg.Topics {
					topics = append(topics, group.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
				}
			}
			sg := kmsg.NewOffsetFetchResponseGroup()
			sg.Group = rg.Group
			fetched, err := h.fetchOffsets(rg.Group, topics, r.RequireStable)
			if err != nil {
				sg.ErrorCode = h.code(err)
			}
			for _, ft := range fetched {
				st := kmsg.NewOffsetFetchResponseGroupTopic()
				st.Topic = ft.Topic
				for _, fp := range ft.Partitions {
					sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = fp.Partition, fp.Offset, fp.LeaderEpoch, fp.ErrorCode
					sp.Metadata = &fp.Metadata
					st.Partitions = append(st.Partitions, sp)
				}
				sg.Topics = append(sg.Topics, st)
			}
			resp.Groups = append(resp.Groups, sg)
		}
		return respond(req, resp)
	}

	var topics []group.TopicPartitions
	if r.Topics != nil || req.Version < 2 {
		topics = make([]group.TopicPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, group.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	fetched, err := h.fetchOffsets(r.Group, topics, req.Version >= 7 && r.RequireStable)
	var code int16
	if err != nil {
		code = h.code(err)
		if req.Version >= 2 {
			resp.ErrorCode = code
			return respond(req, resp)
		}
		// v0-v1 have no group-level error: every partition carries it.
		fetched = fetched[:0]
		for _, t := range topics {
			ft := group.FetchedTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				ft.Partitions = append(ft.Partitions, group.FetchedPartition{Partition: p, Offset: -1, LeaderEpoch: -1})
			}
			fetched = append(fetched, ft)
		}
	}
	for _, ft := range fetched {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = ft.Topic
		for _, fp := range ft.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset, sp.LeaderEpoch, sp.ErrorCode = fp.Partition, fp.Offset, fp.LeaderEpoch, fp.ErrorCode
			if code != 0 {
				sp.ErrorCode = code
			}
			sp.Metadata = &fp.Metadata
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return respond(req, resp)
}

func (h *Handler) fetchOffsets(groupID string, topics []group.TopicPartitions, requireStable bool) ([]group.FetchedTopic, error) {
	if h.Groups == nil {
		return nil, errNoGroups
	}
	return h.Groups.FetchOffsets(groupID, topics, requireStable)
}
