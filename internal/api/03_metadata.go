package api

// Metadata, versions 1-12.
//
// v1 null topics = all topics; v2 cluster id; v4 allow auto topic creation;
// v5 offline replicas; v7 leader epoch; v8 authorized operations; v9
// flexible; v10 topic ids (KIP-516) in the response (the request's id field
// must stay zero); v11 drops cluster authorized operations; v12 lets a
// request name topics by id, with a null (or any) name.

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
	ids := requestTopicIDs(r.Topics)
	if invalidMetadataRequest(req.Version, r.Topics, len(ids) > 0) {
		return respond(req, metadataError(r, kerr.InvalidRequest.Code))
	}
	resp := kmsg.NewPtrMetadataResponse()
	img := h.image()

	var topics []kmsg.MetadataResponseTopic
	switch {
	case r.Topics == nil:
		for _, name := range img.TopicNames() {
			topics = append(topics, topicMetadata(img, img.Topics[name], r.IncludeTopicAuthorizedOperations))
		}
	case len(ids) > 0:
		topics = topicsByID(img, ids, r.IncludeTopicAuthorizedOperations)
	default:
		names := requestTopicNames(r.Topics)
		if h.Config.AutoCreateTopics && (req.Version < 4 || r.AllowAutoTopicCreation) {
			img = h.autoCreate(ctx, img, names)
		}
		topics = topicsByName(img, names, r.IncludeTopicAuthorizedOperations)
	}

	listener := listenerOf(req)
	for _, id := range img.LiveBrokerIDs() {
		if b, host, port, ok := brokerOn(img, id, listener); ok {
			resp.Brokers = append(resp.Brokers, kmsg.MetadataResponseBroker{NodeID: b.NodeID, Host: host, Port: port, Rack: b.Rack})
		}
	}
	leadersOn(img, listener, req.Version, topics)
	cid := img.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = h.controllerID(img)
	if r.IncludeClusterAuthorizedOperations && req.Version <= 10 {
		resp.AuthorizedOperations = clusterOps
	}
	resp.Topics = topics
	return respond(req, resp)
}

// invalidMetadataRequest reports what Kafka refuses before looking at any
// topic: below v12 a topic must have a name and no id (v10 and v11 carry
// the id field but may not use it). At v12 a topic with neither a name nor
// an id is refused too when no topic of the request has an id (with one,
// every name is ignored); Kafka 4.1 fails there with an internal error
// (UNKNOWN_SERVER_ERROR), samsa answers INVALID_REQUEST, which is what the
// request is.
func invalidMetadataRequest(version int16, topics []kmsg.MetadataRequestTopic, byID bool) bool {
	for _, t := range topics {
		if t.Topic == nil && (version < 12 || !byID) || version < 12 && t.TopicID != [16]byte{} {
			return true
		}
	}
	return false
}

// metadataError is Kafka's whole-request error answer
// (MetadataRequest.getErrorResponse): every requested topic echoed with
// its id, a null name as "", and the error; no brokers, no cluster id.
func metadataError(r *kmsg.MetadataRequest, code int16) *kmsg.MetadataResponse {
	resp := kmsg.NewPtrMetadataResponse()
	for _, rt := range r.Topics {
		mt := kmsg.NewMetadataResponseTopic()
		name := ""
		if rt.Topic != nil {
			name = *rt.Topic
		}
		mt.Topic, mt.TopicID, mt.ErrorCode = &name, rt.TopicID, code
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// requestTopicIDs returns the distinct non-zero topic ids of a request, in
// request order. Kafka answers by id whenever there is one
// (KafkaApis.handleTopicMetadataRequest: useTopicId = topicIds.nonEmpty),
// ignoring every name, even one sent alongside an id.
func requestTopicIDs(topics []kmsg.MetadataRequestTopic) []metadata.UUID {
	var ids []metadata.UUID
	seen := map[metadata.UUID]bool{}
	for _, t := range topics {
		if id := metadata.UUID(t.TopicID); id != (metadata.UUID{}) && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// requestTopicNames returns the distinct names of a request in request
// order: Kafka answers each name once however often it is asked.
func requestTopicNames(topics []kmsg.MetadataRequestTopic) []string {
	var names []string
	seen := map[string]bool{}
	for _, t := range topics {
		if t.Topic != nil && !seen[*t.Topic] {
			seen[*t.Topic] = true
			names = append(names, *t.Topic)
		}
	}
	return names
}

// topicsByID answers topics asked for by id: the unknown ids first, each
// UNKNOWN_TOPIC_ID with its id and a null name, then the known topics, as
// Kafka orders them. Only known topics carry authorized operations.
func topicsByID(img *metadata.Image, ids []metadata.UUID, withOps bool) []kmsg.MetadataResponseTopic {
	var unknown, known []kmsg.MetadataResponseTopic
	for _, id := range ids {
		if t := img.ByID[id]; t != nil {
			known = append(known, topicMetadata(img, t, withOps))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.TopicID, mt.ErrorCode = id, kerr.UnknownTopicID.Code
		unknown = append(unknown, mt)
	}
	return append(unknown, known...)
}

// topicsByName answers topics asked for by name; an error entry names the
// topic with a zero id and, as in Kafka, carries authorized operations too.
func topicsByName(img *metadata.Image, names []string, withOps bool) []kmsg.MetadataResponseTopic {
	out := make([]kmsg.MetadataResponseTopic, 0, len(names))
	for _, name := range names {
		if t := img.Topics[name]; t != nil {
			out = append(out, topicMetadata(img, t, withOps))
			continue
		}
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = &name
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		if controller.ValidateTopicName(name) != nil {
			mt.ErrorCode = kerr.InvalidTopicException.Code
		}
		if withOps {
			mt.AuthorizedOperations = topicOps
		}
		out = append(out, mt)
	}
	return out
}

// autoCreate creates the valid names the image lacks and returns the image
// once it has them. Errors (a concurrent creation, say) surface as the
// topic's absence or presence in the returned image.
func (h *Handler) autoCreate(ctx context.Context, img *metadata.Image, names []string) *metadata.Image {
	var missing []controller.TopicSpec
	for _, name := range names {
		if img.Topics[name] == nil && controller.ValidateTopicName(name) == nil {
			missing = append(missing, controller.TopicSpec{Name: name, NumPartitions: -1, ReplicationFactor: -1})
		}
	}
	if len(missing) == 0 {
		return img
	}
	_, errs := h.Client.CreateTopics(ctx, missing, false)
	var created []string
	for i, err := range errs {
		if err == nil {
			created = append(created, missing[i].Name)
		}
	}
	return h.awaitTopics(ctx, created)
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
