package api

// Metadata, versions 1-12.
//
// v1 null topics = all topics; v2 cluster id; v4 allow auto topic creation;
// v5 offline replicas; v7 leader epoch; v8 authorized operations; v9
// flexible; v10 topic ids (KIP-516); v11 drops cluster authorized
// operations; v12 lets a topic be named by id with a null name.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(3, 1, 12, (*Handler).metadata) }

// Without an authorizer every operation is allowed; these are the bitmasks
// Kafka reports then (bit n = AclOperation n).
const (
	topicOps   = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	clusterOps = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12 | 1<<13 | 1<<14
)

func (h *Handler) metadata(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.MetadataRequest)
	resp := kmsg.NewPtrMetadataResponse()
	img := h.image()

	autoCreate := h.Config.AutoCreateTopics && (req.Version < 4 || r.AllowAutoTopicCreation)
	if autoCreate && r.Topics != nil {
		var missing []controller.TopicSpec
		for _, t := range r.Topics {
			if t.Topic != nil && img.Topics[*t.Topic] == nil && controller.ValidateTopicName(*t.Topic) == nil {
				missing = append(missing, controller.TopicSpec{Name: *t.Topic, NumPartitions: -1, ReplicationFactor: -1})
			}
		}
		if len(missing) > 0 {
			// Errors (a concurrent creation, say) surface below as the
			// topic's absence or presence in the fresh image.
			_, errs := h.Client.CreateTopics(ctx, missing, false)
			var created []string
			for i, err := range errs {
				if err == nil {
					created = append(created, missing[i].Name)
				}
			}
			img = h.awaitTopics(ctx, created)
		}
	}

	for _, id := range img.LiveBrokerIDs() {
		b := img.Brokers[id]
		resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	cid := img.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = h.controllerID(img)
	if r.IncludeClusterAuthorizedOperations && req.Version <= 10 {
		resp.AuthorizedOperations = clusterOps
	}

	if r.Topics == nil {
		for _, name := range img.TopicNames() {
			resp.Topics = append(resp.Topics, topicMetadata(img, img.Topics[name], r.IncludeTopicAuthorizedOperations))
		}
		return respond(req, resp)
	}
	for _, rt := range r.Topics {
		var t *metadata.Topic
		var mt kmsg.MetadataResponseTopic
		switch {
		case rt.Topic == nil && rt.TopicID == [16]byte{}:
			mt = kmsg.NewMetadataResponseTopic()
			mt.ErrorCode = kerr.InvalidRequest.Code
		case rt.Topic == nil:
			if t = img.ByID[metadata.UUID(rt.TopicID)]; t == nil {
				mt = kmsg.NewMetadataResponseTopic()
				mt.TopicID = rt.TopicID
				mt.ErrorCode = kerr.UnknownTopicID.Code
			}
		default:
			if err := controller.ValidateTopicName(*rt.Topic); err != nil {
				mt = kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = kerr.InvalidTopicException.Code
			} else if t = img.Topics[*rt.Topic]; t == nil {
				mt = kmsg.NewMetadataResponseTopic()
				mt.Topic = rt.Topic
				mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		}
		if t != nil {
			mt = topicMetadata(img, t, r.IncludeTopicAuthorizedOperations)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return respond(req, resp)
}

func topicMetadata(img *metadata.Image, t *metadata.Topic, withOps bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal
	if withOps {
		mt.AuthorizedOperations = topicOps
	}
	mt.Partitions = make([]kmsg.MetadataResponseTopicPartition, len(t.Partitions))
	for i, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Index
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		for _, r := range p.Replicas {
			if b, ok := img.Brokers[r]; !ok || b.Fenced {
				mp.OfflineReplicas = append(mp.OfflineReplicas, r)
			}
		}
		if p.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions[i] = mp
	}
	return mt
}
