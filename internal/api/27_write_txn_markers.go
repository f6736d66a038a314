package api

// WriteTxnMarkers, version 1.
//
// A transaction coordinator (of any broker) sends it to the leaders of a
// transaction's partitions once the transaction's outcome is decided: each
// leader appends a commit or abort marker to each partition named, as a
// control batch with the producer id and epoch and the coordinator's epoch
// (record.BuildMarker), and answers once the marker is committed (Kafka
// appends it with acks=all, bounded by request.timeout.ms). v0 was removed
// in Kafka 4.0 and v1 (flexible) is what Kafka 4.1 serves; v2 (Kafka 4.2,
// KIP-1228) adds the transaction version.
//
// Per partition, with Kafka's codes: UNKNOWN_TOPIC_OR_PARTITION for a
// partition the metadata does not know, NOT_LEADER_OR_FOLLOWER where this
// broker does not lead, then the append's own (NOT_ENOUGH_REPLICAS under
// min.insync.replicas, INVALID_PRODUCER_EPOCH,
// TRANSACTION_COORDINATOR_FENCED, KAFKA_STORAGE_ERROR) and the wait's
// (REQUEST_TIMED_OUT, NOT_LEADER_OR_FOLLOWER when leadership ends first,
// NOT_ENOUGH_REPLICAS_AFTER_APPEND). Once a marker is committed in a
// partition of __consumer_offsets, the group coordinator completes the
// producer's transactional offset commits there (group.CompleteTxn), as
// Kafka's onTransactionCompleted does.
//
// Every marker is appended on the connection's reader goroutine, in
// request order; only the waits are deferred, one partition after another
// (the waits overlap: every marker is already in its log).

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/group"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(27, 1, 1, (*Handler).writeTxnMarkers) }

// markerTimeout is Kafka's request.timeout.ms default, which bounds its
// wait for a marker's replication (samsa does not read that setting). A
// variable so that a test can shorten it.
var markerTimeout = 30 * time.Second

// markerWait is an appended marker waiting to be committed.
type markerWait struct {
	p      *partition.Partition
	epoch  int32
	offset int64
	pid    int64
	commit bool
	resp   *kmsg.WriteTxnMarkersResponseMarkerTopicPartition
}

func (h *Handler) writeTxnMarkers(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.WriteTxnMarkersRequest)
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	resp.SetVersion(req.Version)
	img := h.image()
	var waits []markerWait
	for _, m := range r.Markers {
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for _, t := range m.Topics {
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = t.Topic
			// Sized once: waits point into this array, which the copy
			// appended to rm.Topics shares.
			rt.Partitions = make([]kmsg.WriteTxnMarkersResponseMarkerTopicPartition, len(t.Partitions))
			mt := img.Topics[t.Topic]
			for i, index := range t.Partitions {
				rp := &rt.Partitions[i]
				*rp = kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = index
				if mt == nil || index < 0 || int(index) >= len(mt.Partitions) {
					rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
					continue
				}
				p := h.leaderReplica(t.Topic, index)
				if p == nil {
					rp.ErrorCode = kerr.NotLeaderForPartition.Code
					continue
				}
				res, err := p.AppendMarker(record.Marker{
					ProducerID:       m.ProducerID,
					ProducerEpoch:    m.ProducerEpoch,
					CoordinatorEpoch: m.CoordinatorEpoch,
					Commit:           m.Committed,
				})
				if err != nil {
					rp.ErrorCode = h.code(err)
					continue
				}
				waits = append(waits, markerWait{p: p, epoch: res.LeaderEpoch, offset: res.LastOffset, pid: m.ProducerID, commit: m.Committed, resp: rp})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	if len(waits) == 0 {
		return wire.Now(wire.Response{Msg: resp})
	}
	timeout := markerTimeout
	return func(ctx context.Context) wire.Response {
		if !h.awaitMarkers(ctx, waits, timeout) {
			return wire.Response{}
		}
		return wire.Response{Msg: resp}
	}
}

// awaitMarkers waits until every marker is committed or the timeout
// passes, setting each one's error code, and completes the transactional
// offset commits of the __consumer_offsets partitions whose marker was
// committed. It reports false when ctx ended (the connection is gone: no
// response).
func (h *Handler) awaitMarkers(ctx context.Context, waits []markerWait, timeout time.Duration) bool {
	return h.awaitCommitted(ctx, timeout, len(waits), func(wctx context.Context, i int) error {
		return waits[i].p.WaitCommitted(wctx, waits[i].epoch, waits[i].offset)
	}, func(i int, err error) {
		w := &waits[i]
		if err == nil {
			if w.p.Topic == group.TopicName && h.Groups != nil {
				h.Groups.CompleteTxn(w.p.Index, w.pid, w.commit)
			}
			return
		}
		// On NOT_LEADER_OR_FOLLOWER the coordinator retries at the
		// partition's next leader.
		w.resp.ErrorCode = h.code(err)
	})
}
