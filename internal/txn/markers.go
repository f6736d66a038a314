package txn

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// MarkerSender sends a WriteTxnMarkers request to broker node (the
// partition leaders' API 27) and returns its answer; an error means no
// answer (the markers are sent again).
type MarkerSender interface {
	WriteTxnMarkers(ctx context.Context, node int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
}

// Peers sends a request to another broker (peer.Pool).
type Peers interface {
	Request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error)
}

// PeerMarkers sends markers through peers.
func PeerMarkers(peers Peers) MarkerSender { return peerMarkers{peers} }

type peerMarkers struct{ peers Peers }

func (p peerMarkers) WriteTxnMarkers(ctx context.Context, node int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	if p.peers == nil {
		return nil, fmt.Errorf("txn: no way to reach node %d: %w", node, kerr.BrokerNotAvailable)
	}
	resp, err := p.peers.Request(ctx, node, req)
	if err != nil {
		return nil, err
	}
	r, ok := resp.(*kmsg.WriteTxnMarkersResponse)
	if !ok {
		return nil, fmt.Errorf("txn: WriteTxnMarkers answered with %T", resp)
	}
	return r, nil
}

// markerTimeout bounds one WriteTxnMarkers request (Kafka's
// request.timeout.ms).
const markerTimeout = 30 * time.Second

// maxMarkerBackoff caps the pause between rounds of markers.
const maxMarkerBackoff = time.Second

// markerJob is an ended transaction whose markers are being written.
type markerJob struct {
	id               string
	producerID       int64
	epoch            int16
	commit           bool
	coordinatorEpoch int32
	tv               int8
	partitions       []TopicPartition
}

// startMarkers starts writing the markers of m, whose decision
// (PrepareCommit or PrepareAbort) was just committed or loaded, then its
// completion. Callers hold s.mu.
func (c *Coordinator) startMarkers(s *shard, m *txnMeta) {
	job := markerJob{
		id: m.id, producerID: m.producerID, epoch: m.epoch, commit: m.state == PrepareCommit,
		coordinatorEpoch: s.rt.Epoch, tv: int8(m.clientTV), partitions: m.sortedPartitions(),
	}
	if !c.enter() {
		return
	}
	go func() {
		defer c.wg.Done()
		if c.sendMarkers(s, job) {
			c.complete(s, job)
		}
	}()
}

// sendMarkers writes job's markers to the current leader of each of its
// partitions, one request per leader, until every partition has its
// marker, as Kafka's marker channel does: retriable errors (no leader
// yet, NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, a
// network failure) are retried with backoff against the leader of the
// moment; a partition of a topic that was deleted is dropped. It returns
// false when the shard is unloaded first (the next coordinator sends them
// again), or when a leader says that the producer or the coordinator was
// fenced (a newer epoch wrote there: this decision is no longer this
// coordinator's to complete).
func (c *Coordinator) sendMarkers(s *shard, job markerJob) bool {
	remaining := make(map[TopicPartition]struct{}, len(job.partitions))
	for _, tp := range job.partitions {
		remaining[tp] = struct{}{}
	}
	backoff := c.backoff
	var quiet logOnce
	for len(remaining) > 0 {
		if s.ctx.Err() != nil {
			return false
		}
		byNode, unknown := c.leadersOf(remaining)
		type answer struct {
			node  int32
			parts []TopicPartition
			resp  *kmsg.WriteTxnMarkersResponse
			err   error
		}
		answers := make(chan answer, len(byNode))
		var wg sync.WaitGroup
		for node, parts := range byNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(s.ctx, markerTimeout)
				defer cancel()
				resp, err := c.markers.WriteTxnMarkers(ctx, node, markerRequest(job, parts))
				answers <- answer{node: node, parts: parts, resp: resp, err: err}
			}()
		}
		wg.Wait()
		close(answers)
		done := map[TopicPartition]bool{}
		for a := range answers {
			if a.err != nil {
				if s.ctx.Err() == nil && quiet.due(a.err.Error()) {
					c.log.Info("transaction markers not written; retrying", "transactional_id", job.id, "node", a.node, "err", a.err)
				}
				continue
			}
			for tp, code := range markerErrors(a.resp, job.producerID) {
				if _, ok := remaining[tp]; !ok {
					continue
				}
				switch err := kerr.ErrorForCode(code); {
				case err == nil:
					done[tp] = true
				case err == kerr.InvalidProducerEpoch || err == kerr.TransactionCoordinatorFenced:
					c.log.Warn("transaction markers refused: a newer producer or coordinator epoch wrote there; this coordinator stops sending them",
						"transactional_id", job.id, "producer_id", job.producerID, "producer_epoch", job.epoch,
						"coordinator_epoch", job.coordinatorEpoch, "topic", tp.Topic, "partition", tp.Partition, "err", err)
					return false
				case err == kerr.UnsupportedForMessageFormat || err == kerr.UnsupportedVersion:
					// Kafka drops these: the producer could not have
					// written to such a partition either.
					done[tp] = true
				case err == kerr.UnknownTopicOrPartition && c.topicGone(tp):
					done[tp] = true
				case retriableMarkerError(err):
				default:
					if quiet.due(err.Error()) {
						c.log.Warn("unexpected transaction marker error; retrying", "transactional_id", job.id,
							"topic", tp.Topic, "partition", tp.Partition, "err", err)
					}
				}
			}
		}
		for tp := range unknown {
			if c.topicGone(tp) {
				done[tp] = true
			}
		}
		if len(done) > 0 {
			c.markersDone(s, job, done)
			for tp := range done {
				delete(remaining, tp)
			}
		}
		if len(remaining) == 0 {
			return true
		}
		if !c.sleep(s.ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, maxMarkerBackoff)
	}
	return true
}

// leadersOf groups partitions by their current leader; those without a
// live leader (none elected, the broker fenced or unknown) or whose topic
// is gone are returned apart.
func (c *Coordinator) leadersOf(parts map[TopicPartition]struct{}) (map[int32][]TopicPartition, map[TopicPartition]struct{}) {
	img := c.image()
	byNode := map[int32][]TopicPartition{}
	unknown := map[TopicPartition]struct{}{}
	for tp := range parts {
		t := img.Topics[tp.Topic]
		if t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions) {
			unknown[tp] = struct{}{}
			continue
		}
		leader := t.Partitions[tp.Partition].Leader
		if b, ok := img.Brokers[leader]; leader < 0 || !ok || b.Fenced {
			unknown[tp] = struct{}{}
			continue
		}
		byNode[leader] = append(byNode[leader], tp)
	}
	return byNode, unknown
}

// topicGone reports whether tp's topic (or the partition) no longer exists.
func (c *Coordinator) topicGone(tp TopicPartition) bool {
	t := c.image().Topics[tp.Topic]
	return t == nil || tp.Partition < 0 || int(tp.Partition) >= len(t.Partitions)
}

// retriableMarkerError lists the errors Kafka's marker channel retries.
func retriableMarkerError(err error) bool {
	switch err {
	case kerr.UnknownTopicOrPartition, kerr.NotLeaderForPartition, kerr.NotEnoughReplicas,
		kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut, kerr.KafkaStorageError:
		return true
	}
	return false
}

// markerRequest is one marker for parts, grouped by topic.
func markerRequest(job markerJob, parts []TopicPartition) *kmsg.WriteTxnMarkersRequest {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	mk := kmsg.NewWriteTxnMarkersRequestMarker()
	mk.ProducerID, mk.ProducerEpoch, mk.Committed = job.producerID, job.epoch, job.commit
	mk.CoordinatorEpoch, mk.TransactionVersion = job.coordinatorEpoch, job.tv
	byTopic := map[string]int{}
	for _, tp := range parts {
		i, ok := byTopic[tp.Topic]
		if !ok {
			i = len(mk.Topics)
			byTopic[tp.Topic] = i
			mk.Topics = append(mk.Topics, kmsg.WriteTxnMarkersRequestMarkerTopic{Topic: tp.Topic})
		}
		mk.Topics[i].Partitions = append(mk.Topics[i].Partitions, tp.Partition)
	}
	req.Markers = []kmsg.WriteTxnMarkersRequestMarker{mk}
	return req
}

// markerErrors is the answer's code for each partition of producerID's
// marker; partitions the answer leaves out are absent (and retried).
func markerErrors(resp *kmsg.WriteTxnMarkersResponse, producerID int64) map[TopicPartition]int16 {
	out := map[TopicPartition]int16{}
	if resp == nil {
		return out
	}
	for _, mk := range resp.Markers {
		if mk.ProducerID != producerID {
			continue
		}
		for _, t := range mk.Topics {
			for _, p := range t.Partitions {
				out[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = p.ErrorCode
			}
		}
	}
	return out
}

// markersDone takes partitions whose marker is written out of the
// transaction's in-memory partition set, as Kafka does, so that
// DescribeTransactions shows what is left to do. The log keeps the full
// set until the completion: a coordinator that takes over sends all of
// them again.
func (c *Coordinator) markersDone(s *shard, job markerJob, done map[TopicPartition]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.txns[job.id]
	if s.unloaded || m == nil || m.producerID != job.producerID || m.epoch != job.epoch || !(m.state == PrepareCommit || m.state == PrepareAbort) {
		return
	}
	for tp := range done {
		delete(m.partitions, tp)
	}
}

// complete writes CompleteCommit or CompleteAbort once every marker of job
// is written, retrying a write that fails (below min.insync.replicas, say)
// until it is committed or the shard is unloaded.
func (c *Coordinator) complete(s *shard, job markerJob) {
	backoff := c.backoff
	for {
		s.mu.Lock()
		m := s.txns[job.id]
		if s.unloaded || m == nil || m.producerID != job.producerID || m.epoch != job.epoch || !(m.state == PrepareCommit || m.state == PrepareAbort) {
			s.mu.Unlock()
			return
		}
		if m.pending != nil {
			// Cannot happen: nothing else moves a decided
			// transaction. Wait and look again rather than write
			// over it.
			s.mu.Unlock()
			c.log.Error("a decided transaction has a pending transition", "transactional_id", job.id)
			if !c.sleep(s.ctx, backoff) {
				return
			}
			continue
		}
		wr, err := c.transition(s, m, m.prepareComplete(c.nowMs()), nil)
		s.mu.Unlock()
		if err == nil {
			select {
			case <-wr.Done():
				err = wr.Err()
			case <-s.ctx.Done():
				return
			}
		}
		s.mu.Lock()
		finished := s.txns[job.id] == m && (m.state == CompleteCommit || m.state == CompleteAbort)
		s.mu.Unlock()
		if finished {
			return
		}
		if s.ctx.Err() != nil {
			return
		}
		c.log.Warn("cannot write the completion of a transaction; retrying", "transactional_id", job.id, "err", err)
		if !c.sleep(s.ctx, backoff) {
			return
		}
		backoff = min(2*backoff, maxMarkerBackoff)
	}
}

// sleep pauses d (wall time: marker retries are not driven by the test
// clock), false when ctx ends first.
func (c *Coordinator) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logOnce keeps a retry loop from logging the same failure on every
// round: a message is due when it differs from the last one logged, or
// a minute after it.
type logOnce struct {
	last string
	at   time.Time
}

func (l *logOnce) due(msg string) bool {
	if msg == l.last && time.Since(l.at) < time.Minute {
		return false
	}
	l.last, l.at = msg, time.Now()
	return true
}
