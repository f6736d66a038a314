package api

// Produce, versions 3-12.
//
// v3 is the first with record batch v2 only (and transactional ids); v5
// adds the log start offset; v8 per-record errors and an error message
// (KIP-467); v9 flexible; v10 the current-leader tags (KIP-951); v11 may
// answer TRANSACTION_ABORTABLE; v12 comes from clients of transaction
// version 2, whose transactional batches add their partition to the
// transaction (KIP-890 part 2). acks=-1 waits for the high watermark to
// pass the batch.
//
// A topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION and nothing is
// created: Kafka auto-creates topics only from Metadata requests, which
// clients send before they produce.
//
// Transactional batches need the request's transactional id (else the
// whole request is TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Kafka's answer),
// and a partition that has no transaction of the producer open yet is
// verified with the transaction coordinator before the batch is appended
// (KIP-890 part 1): a batch of a transaction that never added the
// partition (a hanging transaction in the making) is refused with
// INVALID_TXN_STATE (TRANSACTION_ABORTABLE from v11).

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() {
	register(0, 3, 12, (*Handler).produce)
	// librdkafka before 2.11 only compresses with gzip, snappy or lz4 when
	// the broker lists Produce v0, so Kafka 4 advertises v0 while refusing
	// v0-2 requests (KAFKA-18659); so does samsa.
	advertiseFrom(0, 0)
}

// flushing is an appended batch whose fsync (the flush policy's, with
// flush.messages=1 say) the response waits for.
type flushing struct {
	p    *partition.Partition
	end  int64 // every offset below is to be durable
	resp *kmsg.ProduceResponseTopicPartition
}

// flushAll fsyncs the partitions of one request, all at once: each waits
// in log.FlushTo, whose fsync is shared with every other request's batches
// on the partition (group commit), and the partitions' fsyncs run in
// parallel so the file system can commit them together. A failed fsync
// fails its partition's answer with KAFKA_STORAGE_ERROR.
func (h *Handler) flushAll(fl []flushing) {
	run := func(f *flushing) {
		if err := f.p.FlushTo(f.end); err != nil {
			f.resp.ErrorCode = h.code(err)
			f.resp.BaseOffset = -1
		}
	}
	if len(fl) == 1 {
		run(&fl[0])
		return
	}
	var wg sync.WaitGroup
	for i := range fl {
		wg.Go(func() { run(&fl[i]) })
	}
	wg.Wait()
}

// awaiting is an appended batch waiting for the high watermark (acks=-1).
type awaiting struct {
	topic string
	p     *partition.Partition
	epoch int32 // the leader epoch the batch was appended in
	last  int64
	resp  *kmsg.ProduceResponseTopicPartition
}

func (h *Handler) produce(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.ProduceRequest)
	resp := kmsg.NewPtrProduceResponse()
	resp.SetVersion(req.Version)
	var waits []awaiting
	var flushes []flushing
	failed := false
	refuse := h.refuseTransactional(r)
	var later []*deferredAppend

	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			// sp stays valid: st.Partitions' array is shared with the
			// copy appended to resp.Topics below.
			sp := &st.Partitions[i]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			p, hdr, err := h.produceCheck(r, req.Version, rt.Topic, rp.Partition, rp.Records)
			if refuse != nil {
				err = refuse // the whole request fails, as Kafka's error response does
			}
			if err == nil {
				if d := h.deferTxn(req.Version, rt.Topic, rp.Partition, p, hdr, rp.Records, sp); d != nil {
					later = append(later, d)
					continue
				}
			}
			var last partition.AppendResult
			if err == nil {
				// AppendAcks refuses acks=all below min.insync.replicas
				// (NOT_ENOUGH_REPLICAS) and a replica that no longer leads.
				last, err = p.AppendDeferFlush(rp.Records, r.Acks)
				if err == nil && last.FlushDue {
					flushes = append(flushes, flushing{p: p, end: last.LastOffset + 1, resp: sp})
				}
				if err == nil {
					// The console's hot keys: a sampled, bounded-cost
					// look at the keys (see internal/hotkeys).
					h.HotKeys.Observe(rt.Topic, rp.Partition, rp.Records)
				}
			}
			if w, ok := h.produced(req, r.Acks, rt.Topic, p, len(rp.Records), last, err, sp, resp); ok {
				waits = append(waits, w)
			} else if err != nil {
				failed = true
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	var appended chan []awaiting
	if len(later) > 0 {
		appended = make(chan []awaiting, 1)
		go func() { appended <- h.appendVerified(r, req, later, resp) }()
	}
	if r.Acks == 0 {
		// No response is due; Kafka closes the connection on an error so
		// that the producer notices something went wrong. Verified
		// appends and the flush policy's fsyncs go on without anyone
		// to tell (a failed fsync fails the log).
		if len(flushes) > 0 {
			go h.flushAll(flushes)
		}
		return wire.Now(wire.Response{Close: failed})
	}
	if len(waits) == 0 && appended == nil && len(flushes) == 0 {
		return wire.Now(wire.Response{Msg: resp})
	}
	timeout := time.Duration(r.TimeoutMillis) * time.Millisecond
	return func(ctx context.Context) wire.Response {
		h.parkedProduces.Add(1)
		defer h.parkedProduces.Add(-1)
		// The fsyncs run here, off the connection's read loop: the
		// next request is read and appended meanwhile, and waits in
		// the same group commit.
		h.flushAll(flushes)
		// A batch whose fsync failed has its answer (KAFKA_STORAGE_ERROR);
		// it is not waited on to commit.
		waits = slices.DeleteFunc(waits, func(w awaiting) bool { return w.resp.ErrorCode != 0 })
		if appended != nil {
			select {
			case w := <-appended:
				waits = append(waits, w...)
			case <-ctx.Done():
				return wire.Response{}
			}
		}
		if !h.awaitReplication(ctx, req, resp, waits, timeout) {
			return wire.Response{}
		}
		return wire.Response{Msg: resp}
	}
}

// produced fills a partition's answer with an append's outcome, counts it
// in the partition's Traffic, and returns what acks=all then waits for.
// size is the byte length of the records the producer sent.
func (h *Handler) produced(req *wire.Request, acks int16, topic string, p *partition.Partition, size int, last partition.AppendResult, err error,
	sp *kmsg.ProduceResponseTopicPartition, resp *kmsg.ProduceResponse) (awaiting, bool) {
	version := req.Version
	countProduced(p, size, last, err)
	if err != nil {
		sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
		sp.ErrorCode = h.code(err)
		if version >= 8 {
			sp.ErrorMessage = message(err)
			sp.ErrorRecords = recordErrors(err)
		}
		if version >= 10 && sp.ErrorCode == kerr.NotLeaderForPartition.Code {
			currentLeader(h.image(), listenerOf(req), topic, sp.Partition, p, sp, resp)
		}
		return awaiting{}, false
	}
	sp.BaseOffset = last.BaseOffset
	sp.LogAppendTime = last.LogAppendTime
	sp.LogStartOffset = last.LogStartOffset
	if acks == -1 && !plantedAckEarly {
		return awaiting{topic: topic, p: p, epoch: last.LeaderEpoch, last: last.LastOffset, resp: sp}, true
	}
	return awaiting{}, false
}

// countProduced counts one partition's append in its Traffic, as Kafka's
// BrokerTopicMetrics do: bytes and records in for a batch appended (the
// batch's bytes as the producer sent them, compressed; a duplicate that
// was not appended again counts nothing), a failed produce for a refused
// one. Failures before a local replica was found (an unknown topic, a
// replica that does not lead) have no partition to count on.
func countProduced(p *partition.Partition, size int, last partition.AppendResult, err error) {
	if p == nil {
		return
	}
	tr := p.Traffic()
	switch {
	case err != nil:
		tr.FailedProduce.Add(1)
	case !last.Duplicate:
		tr.BytesIn.Add(uint64(size))
		tr.RecordsIn.Add(uint64(last.LastOffset - last.BaseOffset + 1))
		tr.BatchesIn.Add(1)
	}
}

// currentLeader fills KIP-951's hint into a NOT_LEADER_OR_FOLLOWER answer
// (Produce v10+), as Kafka does: the partition's leader and leader epoch
// as this broker's image has them, and that leader's endpoint among the
// response's brokers when it is live. A client moves the partition there
// at once instead of waiting for a metadata refresh: without the hint
// franz-go waits out its metadata min age (5 s), so every leadership move
// (a controlled shutdown's among them) stalled producers that long.
//
// The local replica (nil if none) may know a newer leadership than img:
// the replica manager gives replicas their new role while the image is
// being delivered, before Delivered returns it, and an acks=all wait ended
// by that move is answered in between. The newer of the two is named, or
// the hint would name this broker again and the client would ignore it.
func currentLeader(img *metadata.Image, listener, topic string, index int32, local *partition.Partition, sp *kmsg.ProduceResponseTopicPartition, resp *kmsg.ProduceResponse) {
	t := img.Topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.Partitions) {
		return
	}
	p := t.Partitions[index]
	leader, epoch := p.Leader, p.LeaderEpoch
	if local != nil {
		if e := local.LeaderEpoch(); e > epoch {
			if l := local.Leader(); l >= 0 {
				leader, epoch = l, e
			}
		}
	}
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = leader, epoch
	b, ok := img.Brokers[leader]
	if !ok || !b.Live() || slices.ContainsFunc(resp.Brokers, func(rb kmsg.ProduceResponseBroker) bool { return rb.NodeID == b.NodeID }) {
		return
	}
	if host, port, ok := b.Endpoint(listener); ok {
		resp.Brokers = append(resp.Brokers, kmsg.ProduceResponseBroker{NodeID: b.NodeID, Host: host, Port: port, Rack: b.Rack})
	}
}

// produceCheck checks one partition's records before they are appended,
// and returns the local leader replica and the batch header (zero when
// the records hold no parsable batch: Append's validation refuses them
// with Kafka's codes).
func (h *Handler) produceCheck(r *kmsg.ProduceRequest, version int16, topic string, index int32, records []byte) (*partition.Partition, record.Header, error) {
	if r.Acks != -1 && r.Acks != 0 && r.Acks != 1 {
		return nil, record.Header{}, kerr.InvalidRequiredAcks
	}
	img := h.image()
	t := img.Topics[topic]
	if t == nil || index < 0 || int(index) >= len(t.Partitions) {
		return nil, record.Header{}, kerr.UnknownTopicOrPartition
	}
	if t.Internal {
		return nil, record.Header{}, &controller.Error{Code: kerr.InvalidTopicException, Message: "cannot append to internal topic " + topic}
	}
	p := h.leaderReplica(topic, index)
	if p == nil {
		return nil, record.Header{}, kerr.NotLeaderForPartition
	}
	hdr, err := record.ParseHeader(records)
	if err != nil {
		return p, record.Header{}, nil
	}
	if hdr.Codec() == record.CodecZstd && version < 7 {
		// zstd needs Produce v7+ (KIP-110), so old clients never
		// receive batches they cannot decode.
		return nil, record.Header{}, kerr.UnsupportedCompressionType
	}
	return p, hdr, nil
}

// awaitReplication waits until every batch is committed (WaitCommitted)
// or the timeout passes; a batch not committed gets REQUEST_TIMED_OUT,
// NOT_LEADER_OR_FOLLOWER when its leadership ended first (or this broker
// is shutting down: the producer moves to the next leader at once, where a
// timeout would have it wait for a metadata refresh), or
// NOT_ENOUGH_REPLICAS_AFTER_APPEND. It reports false when ctx ended (the
// connection is gone: no response).
func (h *Handler) awaitReplication(ctx context.Context, req *wire.Request, resp *kmsg.ProduceResponse, waits []awaiting, timeout time.Duration) bool {
	return h.awaitCommitted(ctx, timeout, len(waits), func(wctx context.Context, i int) error {
		return waits[i].p.WaitCommitted(wctx, waits[i].epoch, waits[i].last)
	}, func(i int, err error) {
		if err == nil {
			return
		}
		w := &waits[i]
		w.resp.ErrorCode = h.code(err)
		w.resp.BaseOffset = -1
		if req.Version >= 10 && w.resp.ErrorCode == kerr.NotLeaderForPartition.Code {
			currentLeader(h.image(), listenerOf(req), w.topic, w.resp.Partition, w.p, w.resp, resp)
		}
	})
}

// awaitCommitted runs wait for each of n appends in turn, all within
// timeout, and hands each outcome to done: nil once committed;
// NOT_LEADER_OR_FOLLOWER when this broker began shutting down first (the
// client moves to the next leader at once, where a timeout would have it
// wait for a metadata refresh); REQUEST_TIMED_OUT when the timeout passed;
// else wait's own error (the leadership ended, say). It reports false when
// ctx ended (the connection is gone: no response).
func (h *Handler) awaitCommitted(ctx context.Context, timeout time.Duration, n int, wait func(wctx context.Context, i int) error, done func(i int, err error)) bool {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var closing atomic.Bool
	go func() {
		select {
		case <-h.closing:
			closing.Store(true)
			cancel()
		case <-wctx.Done():
		}
	}()
	for i := range n {
		err := wait(wctx, i)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return false
		case closing.Load():
			err = kerr.NotLeaderForPartition
		case wctx.Err() != nil && errors.Is(err, wctx.Err()):
			err = kerr.RequestTimedOut
		}
		done(i, err)
	}
	return true
}

// recordErrors lists the records a batch was refused for (KIP-467), so a
// client can tell which record was bad.
func recordErrors(err error) []kmsg.ProduceResponseTopicPartitionErrorRecord {
	var re *record.Error
	if !errors.As(err, &re) {
		return nil
	}
	var out []kmsg.ProduceResponseTopicPartitionErrorRecord
	for _, e := range re.RecordErrors {
		er := kmsg.NewProduceResponseTopicPartitionErrorRecord()
		er.RelativeOffset = e.Index
		msg := e.Msg
		er.ErrorMessage = &msg
		out = append(out, er)
	}
	return out
}
