package api

// The cluster side of the handlers: which node leads a partition, who the
// controller is, forwarding admin requests to the active controller, and
// the controller listener's own APIs — BrokerRegistration (62),
// BrokerHeartbeat (63), AllocateProducerIds (67), AlterPartition (56),
// DescribeQuorum (55) and the metadata fetch brokers follow the log with.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// leaderReplica is the local replica of topic/index when this node leads
// it in the current image, else nil (the client gets
// NOT_LEADER_OR_FOLLOWER and refreshes its metadata).
func (h *Handler) leaderReplica(topic string, index int32) *partition.Partition {
	t := h.image().Topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.Partitions) || t.Partitions[index].Leader != h.NodeID {
		return nil
	}
	return h.Replicas.Partition(topic, index)
}

// controllerID is what Metadata and DescribeCluster name as the
// controller: the active controller when it is also a live broker (clients
// can reach it), else this broker, which forwards admin requests (KRaft
// brokers answer the same way).
func (h *Handler) controllerID(img *metadata.Image) int32 {
	if h.Client != nil {
		// The lookup must find a registration: a controller-only node has
		// none, and the zero Broker reads as live (not fenced), which
		// would send clients to a node they cannot reach.
		if b, ok := img.Brokers[h.Client.ActiveID()]; ok && b.Live() {
			return b.NodeID
		}
	}
	return h.NodeID
}

// awaitTopics waits (up to a few seconds, and the request's context) until
// this broker's image has every named topic, and returns that image, so a
// Metadata request that auto-created a topic answers with it.
func (h *Handler) awaitTopics(ctx context.Context, names []string) *metadata.Image {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		img := h.image()
		missing := false
		for _, n := range names {
			if img.Topics[n] == nil {
				missing = true
				break
			}
		}
		if !missing || h.Metadata.WaitFor(ctx, img.Offset+1) != nil {
			return h.image()
		}
	}
}

// forwarded are the requests a broker forwards to the active controller
// when it is not that controller itself (KIP-590's forwarding; samsa has
// no principals yet, so the request travels as is rather than in an
// Envelope).
var forwarded = map[int16]bool{19: true, 20: true, 33: true, 37: true, 43: true, 44: true, 45: true, 46: true, 51: true, 55: true}

// forward answers req with the active controller's answer. A controller
// that cannot be reached within the request's time answers every part of
// the request with REQUEST_TIMED_OUT... as Kafka's forwarding manager does.
func (h *Handler) forward(ctx context.Context, req *wire.Request) wire.Pending {
	return func(context.Context) wire.Response {
		fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
		defer cancel()
		kreq := req.Msg.(kmsg.Request)
		if r, ok := kreq.(*kmsg.CreateTopicsRequest); ok {
			if resp := h.forwardCreateTopics(fctx, r, req.Version); resp != nil {
				return wire.Response{Msg: resp}
			}
		}
		resp, err := h.Client.Forward(fctx, kreq)
		if err != nil {
			h.log.Warn("forwarding to the active controller failed", "key", req.Key, "err", err)
			resp = errorResponse(kreq, kerr.RequestTimedOut)
		}
		resp.SetVersion(req.Version)
		if err == nil {
			h.awaitApplied(ctx, kreq, resp)
		}
		return wire.Response{Msg: resp}
	}
}

// forwardTimeout bounds a forwarded request (Kafka's request.timeout.ms
// for the forwarding channel is 30 s; a client's own timeout is shorter).
const forwardTimeout = 30 * time.Second

// errorResponse answers every part of req with code.
func errorResponse(req kmsg.Request, code *kerr.Error) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.CreateTopicsRequest:
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewCreateTopicsResponseTopic()
			rt.Topic, rt.ErrorCode, rt.NumPartitions, rt.ReplicationFactor = t.Topic, code.Code, -1, -1
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.DeleteTopicsRequest:
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		for _, n := range r.TopicNames {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.ErrorCode = kmsg.StringPtr(n), code.Code
			resp.Topics = append(resp.Topics, rt)
		}
		for _, t := range r.Topics {
			rt := kmsg.NewDeleteTopicsResponseTopic()
			rt.Topic, rt.TopicID, rt.ErrorCode = t.Topic, t.TopicID, code.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.CreatePartitionsRequest:
		resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewCreatePartitionsResponseTopic()
			rt.Topic, rt.ErrorCode = t.Topic, code.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	case *kmsg.AlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.AlterConfigsResponse)
		for _, rr := range r.Resources {
			x := kmsg.NewAlterConfigsResponseResource()
			x.ResourceType, x.ResourceName, x.ErrorCode = rr.ResourceType, rr.ResourceName, code.Code
			resp.Resources = append(resp.Resources, x)
		}
		return resp
	case *kmsg.IncrementalAlterConfigsRequest:
		resp := r.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
		for _, rr := range r.Resources {
			x := kmsg.NewIncrementalAlterConfigsResponseResource()
			x.ResourceType, x.ResourceName, x.ErrorCode = rr.ResourceType, rr.ResourceName, code.Code
			resp.Resources = append(resp.Resources, x)
		}
		return resp
	case *kmsg.DescribeQuorumRequest:
		resp := r.ResponseKind().(*kmsg.DescribeQuorumResponse)
		resp.ErrorCode = code.Code
		return resp
	case *kmsg.ElectLeadersRequest:
		return electLeadersError(r, code.Code, nil)
	case *kmsg.AlterPartitionAssignmentsRequest:
		return alterReassignmentsError(r, code.Code, nil)
	case *kmsg.ListPartitionReassignmentsRequest:
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.ErrorCode = code.Code
		return resp
	case *kmsg.AlterPartitionRequest:
		resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = code.Code
		return resp
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return scramUsersError(r, code.Code, nil)
	}
	resp := req.ResponseKind()
	return resp
}

// NotController reports whether resp is a refusal by a controller that is
// not the active one, so the caller should try another.
func NotController(resp kmsg.Response) bool {
	nc := kerr.NotController.Code
	switch r := resp.(type) {
	case *kmsg.CreateTopicsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == nc
	case *kmsg.DeleteTopicsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == nc
	case *kmsg.CreatePartitionsResponse:
		return len(r.Topics) > 0 && r.Topics[0].ErrorCode == nc
	case *kmsg.AlterConfigsResponse:
		return len(r.Resources) > 0 && r.Resources[0].ErrorCode == nc
	case *kmsg.IncrementalAlterConfigsResponse:
		return len(r.Resources) > 0 && r.Resources[0].ErrorCode == nc
	case *kmsg.DescribeQuorumResponse:
		return r.ErrorCode == nc || len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 && r.Topics[0].Partitions[0].ErrorCode == kerr.NotLeaderForPartition.Code
	case *kmsg.BrokerRegistrationResponse:
		return r.ErrorCode == nc
	case *kmsg.BrokerHeartbeatResponse:
		return r.ErrorCode == nc
	case *kmsg.AllocateProducerIDsResponse:
		return r.ErrorCode == nc
	case *kmsg.AlterPartitionResponse:
		// Only the top level: a partition's NOT_CONTROLLER (epochs newer
		// than the controller's) is for the leader to act on.
		return r.ErrorCode == nc
	case *kmsg.ElectLeadersResponse:
		// v0 has no top-level code; its partitions carry it.
		return r.ErrorCode == nc || len(r.Topics) > 0 && len(r.Topics[0].Partitions) > 0 && r.Topics[0].Partitions[0].ErrorCode == nc
	case *kmsg.AlterPartitionAssignmentsResponse:
		return r.ErrorCode == nc
	case *kmsg.ListPartitionReassignmentsResponse:
		return r.ErrorCode == nc
	case *kmsg.AlterUserSCRAMCredentialsResponse:
		return len(r.Results) > 0 && r.Results[0].ErrorCode == nc
	case *kmsg.FetchResponse:
		return r.ErrorCode == nc
	}
	return false
}

// The controller listener's table: the admin requests brokers forward,
// ApiVersions, and the controller's own APIs.
var (
	ctlAPIsOnce sync.Once
	ctlAPIs     map[int16]api
)

func controllerTable() map[int16]api {
	ctlAPIsOnce.Do(func() {
		ctlAPIs = map[int16]api{}
		for k := range forwarded {
			ctlAPIs[k] = apis[k]
		}
		ctlAPIs[18] = apis[18]
		add := func(key, min, max int16, fn func(h *Handler, ctx context.Context, req *wire.Request) wire.Pending) {
			ctlAPIs[key] = api{versions: wire.VersionRange{Min: min, Max: max}, advertisedMin: min, handle: fn}
		}
		add(1, 12, 17, (*Handler).metadataFetch)
		add(56, 0, 3, (*Handler).alterPartition)
		add(62, 0, 4, (*Handler).brokerRegistration)
		add(63, 0, 1, (*Handler).brokerHeartbeat)
		add(67, 0, 0, (*Handler).allocateProducerIDs)
	})
	return ctlAPIs
}

// ControllerVersions is the version table of the controller listener.
func ControllerVersions() map[int16]wire.VersionRange {
	out := map[int16]wire.VersionRange{}
	for k, a := range controllerTable() {
		out[k] = a.versions
	}
	return out
}

func (h *Handler) table() map[int16]api {
	if h.ControllerListener {
		return controllerTable()
	}
	return apis
}

// activeController is the local controller when it decides, else an error
// with NOT_CONTROLLER.
func (h *Handler) activeController() (*controller.Controller, error) {
	if !h.decidesHere() {
		return nil, kerr.NotController
	}
	return h.Controller, nil
}

// HTTPListenerName names the extra BrokerRegistration listener that
// carries a broker's HTTP listener (console, /metrics) to the controller.
const HTTPListenerName = "SAMSA_HTTP"

func (h *Handler) brokerRegistration(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.BrokerRegistrationRequest)
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.BrokerEpoch = -1
	ctl, err := h.activeController()
	if err == nil {
		reg := controller.Registration{NodeID: r.BrokerID, ClusterID: r.ClusterID, Incarnation: metadata.UUID(r.IncarnationID), Rack: r.Rack}
		// The first listener is the inter-broker one; samsa's HTTP
		// listener rides along under its own name (see the broker's
		// register).
		for _, l := range r.Listeners {
			if l.Name == HTTPListenerName {
				reg.HTTP = net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
				continue
			}
			if reg.Host == "" {
				reg.Host, reg.Port = l.Host, int32(l.Port)
			}
			reg.Listeners = append(reg.Listeners, metadata.Endpoint{Name: l.Name, Host: l.Host, Port: int32(l.Port)})
		}
		if reg.Host == "" {
			err = &controller.Error{Code: kerr.InvalidRequest, Message: "a broker registration needs a listener"}
		}
		for _, f := range r.Features {
			if f.Name == metadata.MetadataVersionFeature {
				reg.MaxMetadataVersion = f.MaxSupportedVersion
			}
		}
		if err == nil {
			resp.BrokerEpoch, err = ctl.RegisterBroker(ctx, reg)
		}
	}
	resp.ErrorCode = h.code(err)
	return respond(req, resp)
}

func (h *Handler) brokerHeartbeat(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.BrokerHeartbeatRequest)
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.IsFenced = true
	ctl, err := h.activeController()
	if err == nil {
		var rep controller.HeartbeatReply
		rep, err = ctl.BrokerHeartbeat(ctx, controller.Heartbeat{
			NodeID: r.BrokerID, Epoch: r.BrokerEpoch, MetadataOffset: r.CurrentMetadataOffset,
			WantFence: r.WantFence, WantShutDown: r.WantShutdown,
		})
		resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = rep.CaughtUp, rep.Fenced, rep.ShouldShutDown
	}
	resp.ErrorCode = h.code(err)
	return respond(req, resp)
}

func (h *Handler) allocateProducerIDs(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.AllocateProducerIDsRequest)
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	ctl, err := h.activeController()
	if err == nil {
		if b, ok := ctl.Image().Brokers[r.BrokerID]; !ok || b.Epoch != r.BrokerEpoch {
			err = kerr.StaleBrokerEpoch
		} else {
			resp.ProducerIDStart, err = ctl.AllocateProducerIDs(ctx, r.BrokerID, ProducerIDBlock)
			resp.ProducerIDLen = ProducerIDBlock
		}
	}
	if resp.ErrorCode = h.code(err); resp.ErrorCode != 0 {
		resp.ProducerIDStart, resp.ProducerIDLen = -1, 0
	}
	return respond(req, resp)
}

// MetadataTopic is the metadata log's name, as KRaft's.
const MetadataTopic = "__cluster_metadata"

// MetadataTopicID is the metadata log's topic id, KRaft's fixed
// Uuid.METADATA_TOPIC_ID (0, 1). Fetch v13+ names topics by id only, so a
// metadata fetch at those versions carries this instead of MetadataTopic.
var MetadataTopicID = [16]byte{15: 1}

// isMetadataTopic reports whether a fetched topic is the metadata log: by
// name up to Fetch v12, by id from v13.
func isMetadataTopic(version int16, name string, id [16]byte) bool {
	if version >= 13 {
		return id == MetadataTopicID
	}
	return name == MetadataTopic
}

// metadataFetch serves a broker following the metadata log: a Fetch of
// __cluster_metadata partition 0 from FetchOffset (the offset after the
// broker's image). Only the active controller answers; the others say
// NOT_CONTROLLER so the broker moves on. The partition's records are
// MetadataChunks (see AppendMetadataChunk), not Kafka record batches.
func (h *Handler) metadataFetch(ctx context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.FetchRequest)
	return func(context.Context) wire.Response {
		resp := kmsg.NewPtrFetchResponse()
		ctl, err := h.activeController()
		if err != nil || len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 ||
			!isMetadataTopic(req.Version, r.Topics[0].Topic, r.Topics[0].TopicID) {
			resp.ErrorCode = kerr.NotController.Code
			if err == nil {
				resp.ErrorCode = kerr.InvalidRequest.Code
			}
			return wire.Response{Msg: resp}
		}
		wait := time.Duration(min(max(r.MaxWaitMillis, 0), 5000)) * time.Millisecond
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		fp := r.Topics[0].Partitions[0]
		got, ferr := ctl.Fetch(wctx, fp.FetchOffset-1, int(max(fp.PartitionMaxBytes, 1<<20)))
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = MetadataTopic, MetadataTopicID
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.HighWatermark = got.HighWatermark
		rp.ErrorCode = h.code(ferr)
		if ferr == nil {
			var buf []byte
			if got.Snapshot != nil {
				snap, err := got.Snapshot.EncodeSnapshot()
				if err != nil {
					rp.ErrorCode = h.code(err)
				}
				buf = AppendMetadataChunk(buf, ChunkSnapshot, got.Snapshot.Offset, snap)
			}
			for _, e := range got.Entries {
				buf = AppendMetadataChunk(buf, ChunkEntry, e.Offset, e.Data)
			}
			rp.RecordBatches = buf
		}
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return wire.Response{Msg: resp}
	}
}

// Metadata chunks: [uint8 kind][int64 offset][uint32 length][bytes].
const (
	ChunkEntry    = 1
	ChunkSnapshot = 2
)

// AppendMetadataChunk appends one chunk.
func AppendMetadataChunk(b []byte, kind byte, offset int64, data []byte) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(offset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// MetadataChunk is one decoded chunk.
type MetadataChunk struct {
	Kind   byte
	Offset int64
	Data   []byte
}

// DecodeMetadataChunks splits a metadata fetch's records into chunks.
func DecodeMetadataChunks(b []byte) ([]MetadataChunk, error) {
	var out []MetadataChunk
	for len(b) > 0 {
		if len(b) < 13 {
			return nil, errors.New("api: metadata chunk header truncated")
		}
		c := MetadataChunk{Kind: b[0], Offset: int64(binary.BigEndian.Uint64(b[1:]))}
		n := binary.BigEndian.Uint32(b[9:])
		if uint64(n) > uint64(len(b)-13) {
			return nil, errors.New("api: metadata chunk truncated")
		}
		if c.Kind != ChunkEntry && c.Kind != ChunkSnapshot {
			return nil, fmt.Errorf("api: metadata chunk kind %d", c.Kind)
		}
		c.Data = b[13 : 13+n]
		b = b[13+n:]
		out = append(out, c)
	}
	return out, nil
}

func init() { register(55, 0, 2, (*Handler).describeQuorum) }

// describeQuorum answers DescribeQuorum (API 55), versions 0-2: the
// voters and what the active controller knows of them (controller/quorum.go
// says how it learns their progress). v1 adds the voters' fetch timestamps,
// v2 their directory ids and the nodes' listeners. Observers (broker-only
// nodes following the log) are not listed.
func (h *Handler) describeQuorum(_ context.Context, req *wire.Request) wire.Pending {
	resp := kmsg.NewPtrDescribeQuorumResponse()
	ctl, err := h.activeController()
	var st controller.QuorumState
	if err == nil {
		st, err = ctl.Quorum()
	}
	if err != nil {
		resp.ErrorCode = h.code(err)
		return respond(req, resp)
	}
	rt := kmsg.NewDescribeQuorumResponseTopic()
	rt.Topic = MetadataTopic
	rp := kmsg.NewDescribeQuorumResponseTopicPartition()
	rp.LeaderID, rp.LeaderEpoch, rp.HighWatermark = st.LeaderID, st.LeaderEpoch, st.HighWater
	for _, v := range st.Voters {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = v.ID, v.LogEnd
		rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = unixMilli(v.LastFetch), unixMilli(v.LastCaughtUp)
		rp.CurrentVoters = append(rp.CurrentVoters, rs)
	}
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	for _, n := range ctl.VoterAddrs() {
		node := kmsg.NewDescribeQuorumResponseNode()
		node.NodeID = n.ID
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = "CONTROLLER", n.Host, uint16(n.Port)
		node.Listeners = append(node.Listeners, l)
		resp.Nodes = append(resp.Nodes, node)
	}
	return respond(req, resp)
}

// unixMilli is t in Kafka's milliseconds, or -1 for the zero time (unknown).
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// forwardCreateTopics refuses a client's creation of a reserved internal
// topic at this broker: the controller listener takes every CreateTopics
// as a broker's, and a broker creates those topics for its coordinators
// (see createTopics). The rest of the request is forwarded, and the
// answers are merged in the request's order. It returns nil when the
// request names no reserved topic (forward it as it is).
func (h *Handler) forwardCreateTopics(ctx context.Context, r *kmsg.CreateTopicsRequest, version int16) kmsg.Response {
	reserved := 0
	for _, t := range r.Topics {
		if controller.IsReservedInternal(t.Topic) {
			reserved++
		}
	}
	if reserved == 0 {
		return nil
	}
	rest := *r
	rest.Topics = nil
	for _, t := range r.Topics {
		if !controller.IsReservedInternal(t.Topic) {
			rest.Topics = append(rest.Topics, t)
		}
	}
	answered := map[string]kmsg.CreateTopicsResponseTopic{}
	var resp *kmsg.CreateTopicsResponse
	if len(rest.Topics) > 0 {
		fresp, err := h.Client.Forward(ctx, &rest)
		if err != nil {
			h.log.Warn("forwarding to the active controller failed", "key", r.Key(), "err", err)
			fresp = errorResponse(&rest, kerr.RequestTimedOut)
		} else {
			h.awaitApplied(ctx, &rest, fresp)
		}
		resp = fresp.(*kmsg.CreateTopicsResponse)
		for _, t := range resp.Topics {
			answered[t.Topic] = t
		}
	} else {
		resp = r.ResponseKind().(*kmsg.CreateTopicsResponse)
	}
	resp.Topics = resp.Topics[:0]
	for _, t := range r.Topics {
		if a, ok := answered[t.Topic]; ok {
			resp.Topics = append(resp.Topics, a)
			continue
		}
		err := controller.ReservedTopicError(t.Topic)
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t.Topic, -1, -1
		rt.ErrorCode, rt.ErrorMessage = h.code(err), message(err)
		resp.Topics = append(resp.Topics, rt)
	}
	resp.SetVersion(version)
	return resp
}
