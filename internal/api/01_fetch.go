package api

// Fetch, versions 4-16.
//
// v4 isolation level and last stable offset (KIP-98: read_committed reads
// to the last stable offset and gets the aborted transactions among what
// it read; every answer carries the last stable offset); v5 log start
// offset; v7 fetch sessions (KIP-227, fetch_session.go); v9 current leader
// epoch (KIP-320); v11 rack (KIP-392); v12 flexible and last fetched
// epoch; v13 topic ids instead of names
// (KIP-516); v15 replica state in place of the replica id (KIP-903: the
// follower's id and broker epoch); v16 leader endpoints (KIP-951).
//
// A fetch with a replica id >= 0 is a follower's (Kafka's
// Partition.fetchRecords for a follower): it must reach the leader in the
// follower's epoch, reads to the log end rather than the high watermark,
// is answered with a DivergingEpoch when the follower's LastFetchedEpoch
// and offset are not on the leader's epoch history (KIP-595), records the
// follower's position and broker epoch (which may advance the high
// watermark and wake acks=all producers and consumers; a fetch from an
// older incarnation than the live one is NOT_LEADER_OR_FOLLOWER) and
// long-polls on the log end. Followers fetch in sessions like consumers
// (fetch_session.go): an incremental response still names every partition
// whose high watermark or log start moved, which is how a follower learns
// them.
//
// Record batches are returned exactly as stored, as file regions that the
// connection writes with sendfile. The first partition with data returns
// at least one whole batch even past the byte limits (KIP-74), or a
// consumer would stall on a large batch.

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(1, 4, 16, (*Handler).fetch) }

// maxFetchWait bounds a long poll whatever the client asks.
const maxFetchWait = 5 * time.Minute

func (h *Handler) fetch(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.FetchRequest)
	var sr sessionRequest
	if req.Version >= 7 {
		slots := int(h.currentConfig().FetchSessionCacheSlots)
		sr = h.sessions.resolveSession(r, req.Version, slots, time.Now())
		if sr.errorCode != 0 {
			h.countError(1, sr.errorCode)
			body := &fetchBody{version: req.Version, errorCode: sr.errorCode}
			return wire.Now(wire.Response{Body: &wire.Body{Chunks: body.encode()}})
		}
	} else {
		sr.parts = requestPartitions(r, false)
	}
	plan := h.planFetch(req.Version, sr, listenerOf(req))
	plan.replica, plan.replicaEpoch = r.ReplicaID, -1
	if req.Version >= 15 {
		plan.replica, plan.replicaEpoch = r.ReplicaState.ID, r.ReplicaState.Epoch
	}
	if plan.replica >= 0 {
		h.followerFetches.count(r, req.Version, sr)
	}
	return func(ctx context.Context) wire.Response {
		return h.runFetch(ctx, r, plan)
	}
}

// fetchTarget is one partition to read, resolved once.
type fetchTarget struct {
	p         *partition.Partition
	err       int16
	offset    int64
	lastEpoch int32 // a follower's LastFetchedEpoch
	maxBytes  int64
	leaderEp  int32
	topicIdx  int
	partIndex int
}

type fetchPlan struct {
	replica      int32 // the follower fetching, or -1 for a consumer
	replicaEpoch int64 // the follower's broker epoch (v15+), -1 unknown
	body         fetchBody
	targets      []fetchTarget
	session      sessionRequest // targets[i] reads session.parts[i]
}

// planFetch resolves the partitions to read against the metadata image.
// Consecutive partitions of one topic share a response topic.
func (h *Handler) planFetch(version int16, sr sessionRequest, listener string) *fetchPlan {
	img := h.image()
	plan := &fetchPlan{body: fetchBody{version: version}, session: sr}
	if sr.session != nil {
		plan.body.sessionID = sr.session.id
	}
	var t *metadata.Topic
	var topicErr int16
	for i, sp := range sr.parts {
		if i == 0 || sp.key.topic != sr.parts[i-1].key.topic || sp.key.id != sr.parts[i-1].key.id {
			ft := fetchTopic{name: sp.key.topic, id: sp.key.id}
			topicErr = 0
			if version >= 13 {
				if t = img.ByID[metadata.UUID(sp.key.id)]; t == nil {
					topicErr = kerr.UnknownTopicID.Code
				}
			} else if t = img.Topics[sp.key.topic]; t == nil {
				topicErr = kerr.UnknownTopicOrPartition.Code
			}
			plan.body.topics = append(plan.body.topics, ft)
		}
		ti := len(plan.body.topics) - 1
		ft := &plan.body.topics[ti]
		ft.partitions = append(ft.partitions, fetchPartition{index: sp.key.index, highWatermark: -1, lastStable: -1, logStart: -1})
		tg := fetchTarget{err: topicErr, offset: sp.fetchOffset, lastEpoch: -1, maxBytes: int64(sp.maxBytes), leaderEp: sp.leaderEpoch, topicIdx: ti, partIndex: len(ft.partitions) - 1}
		if version >= 12 {
			tg.lastEpoch = sp.lastFetchedEpoch
		}
		if tg.err == 0 {
			if sp.key.index < 0 || int(sp.key.index) >= len(t.Partitions) {
				tg.err = kerr.UnknownTopicOrPartition.Code
			} else if tg.p = h.leaderReplica(t.Name, sp.key.index); tg.p == nil {
				tg.err = kerr.NotLeaderForPartition.Code
				if version >= 12 {
					fetchLeaderHint(img, listener, &plan.body, t.Partitions[sp.key.index], &ft.partitions[len(ft.partitions)-1])
				}
			}
		}
		plan.targets = append(plan.targets, tg)
	}
	return plan
}

// fetchLeaderHint names p's current leader in a NOT_LEADER_OR_FOLLOWER
// answer (KIP-951), and from v16 that leader's endpoint when it is live, as
// Kafka does for Produce and Fetch: a consumer moves to the new leader at
// once instead of after a metadata refresh.
func fetchLeaderHint(img *metadata.Image, listener string, body *fetchBody, p metadata.Partition, fp *fetchPartition) {
	fp.leaderHint, fp.leaderID, fp.leaderEpoch = true, p.Leader, p.LeaderEpoch
	b, ok := img.Brokers[p.Leader]
	if body.version < 16 || !ok || !b.Live() || slices.ContainsFunc(body.nodes, func(n fetchNode) bool { return n.id == b.NodeID }) {
		return
	}
	if host, port, ok := b.Endpoint(listener); ok {
		body.nodes = append(body.nodes, fetchNode{id: b.NodeID, host: host, port: port, rack: b.Rack})
	}
}

// runFetch reads, and if fewer than MinBytes are available and no partition
// failed, waits for appends (or MaxWait) and reads again.
func (h *Handler) runFetch(ctx context.Context, r *kmsg.FetchRequest, plan *fetchPlan) wire.Response {
	readCommitted := r.IsolationLevel == 1 && plan.replica < 0
	enough := func(bytes int64, failed bool) bool { return failed || bytes >= int64(r.MinBytes) }
	bytes, failed, release := h.readAll(plan, r.MaxBytes, readCommitted)
	wait := min(time.Duration(r.MaxWaitMillis)*time.Millisecond, maxFetchWait)
	if enough(bytes, failed) || wait <= 0 {
		return h.fetchResponse(plan, release)
	}
	release()
	h.parkedFetches.Add(1)
	defer h.parkedFetches.Add(-1)
	wake := make(chan struct{}, 1)
	for _, tg := range plan.targets {
		switch {
		case tg.p == nil:
		case plan.replica >= 0:
			// A follower waits for the log end; its own fetch is what
			// moves the high watermark.
			defer tg.p.AddLEOWaiter(wake)()
		default:
			defer tg.p.AddWaiter(wake)()
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		// Read again after registering: an append may have landed
		// between the first read and the registration.
		bytes, failed, release = h.readAll(plan, r.MaxBytes, readCommitted)
		if enough(bytes, failed) {
			return h.fetchResponse(plan, release)
		}
		select {
		case <-wake:
			release()
			continue
		case <-timer.C:
			return h.fetchResponse(plan, release)
		case <-h.closing:
			return h.fetchResponse(plan, release)
		case <-ctx.Done():
			release()
			return wire.Response{}
		}
	}
}

// readAll fills the plan's partitions from the logs. It returns the record
// bytes gathered, whether any partition failed, and a func that unpins the
// segments behind the returned regions.
func (h *Handler) readAll(plan *fetchPlan, maxBytes int32, readCommitted bool) (int64, bool, func()) {
	var total int64
	failed := false
	var slices []func()
	limit := int64(maxBytes)
	if limit <= 0 {
		limit = 1 // still return the first batch (KIP-74)
	}
	for i := range plan.targets {
		tg := &plan.targets[i]
		fp := &plan.body.topics[tg.topicIdx].partitions[tg.partIndex]
		fp.records, fp.recordBytes, fp.aborted = nil, nil, nil
		fp.diverging = false
		fp.abortedEmptyList = readCommitted
		if tg.err != 0 {
			fp.errorCode = tg.err
			failed = true
			continue
		}
		p := tg.p
		if plan.replica >= 0 {
			if h.readForFollower(plan.replica, plan.replicaEpoch, tg, fp, &total, limit, &slices) {
				failed = true
			}
			continue
		}
		if tg.leaderEp >= 0 {
			if cur := p.LeaderEpoch(); tg.leaderEp < cur {
				fp.errorCode, failed = kerr.FencedLeaderEpoch.Code, true
				continue
			} else if tg.leaderEp > cur {
				fp.errorCode, failed = kerr.UnknownLeaderEpoch.Code, true
				continue
			}
		}
		room := min(tg.maxBytes, limit-total)
		minOne := total == 0
		if room <= 0 && !minOne {
			room = 0
		}
		var res partition.ReadResult
		var err error
		if room > 0 || minOne {
			res, err = p.Read(tg.offset, max(room, 0), minOne, readCommitted)
		} else {
			res.HighWatermark, res.LastStableOffset, res.LogStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
		}
		if err != nil {
			fp.errorCode, failed = h.code(err), true
			fp.highWatermark, fp.lastStable, fp.logStart = -1, -1, -1
			continue
		}
		fp.errorCode = 0
		fp.highWatermark, fp.lastStable, fp.logStart = res.HighWatermark, res.LastStableOffset, res.LogStartOffset
		fp.aborted = res.Aborted
		if res.Slice.Len > 0 {
			s := res.Slice
			fp.records = &wire.Region{File: s.File, Fd: s.File.Fd(), Off: s.Pos, Len: s.Len}
			total += s.Len
			slices = append(slices, s.Release)
		}
	}
	release := func() {
		for _, f := range slices {
			f()
		}
	}
	return total, failed, release
}

// fetchResponse encodes the plan's last read. A session's response
// records what it told the client; an incremental one leaves out the
// partitions with nothing new since the last response.
func (h *Handler) fetchResponse(plan *fetchPlan, release func()) wire.Response {
	h.countFetched(plan)
	sr := plan.session
	if sr.session == nil {
		return wire.Response{Body: &wire.Body{Chunks: plan.body.encode(), Release: release}}
	}
	body := plan.body
	if sr.incremental {
		body.topics = nil
	}
	told := make([]bool, len(plan.targets))
	hadRecords := make([]bool, len(plan.targets))
	for i, tg := range plan.targets {
		ft := &plan.body.topics[tg.topicIdx]
		fp := ft.partitions[tg.partIndex]
		sp := &sr.parts[i]
		hadRecords[i] = fp.records != nil || len(fp.recordBytes) > 0
		told[i] = !sr.incremental || hadRecords[i] || fp.errorCode != 0 ||
			fp.highWatermark != sp.hw || fp.lastStable != sp.lso || fp.logStart != sp.logStart
		if !told[i] {
			continue
		}
		sp.hw, sp.lso, sp.logStart = fp.highWatermark, fp.lastStable, fp.logStart
		if sr.incremental {
			// Partitions come in target order, so a topic's partitions
			// stay together.
			if n := len(body.topics); n == 0 || body.topics[n-1].name != ft.name || body.topics[n-1].id != ft.id {
				body.topics = append(body.topics, fetchTopic{name: ft.name, id: ft.id})
			}
			last := &body.topics[len(body.topics)-1]
			last.partitions = append(last.partitions, fp)
		}
	}
	h.sessions.sent(sr.session, sr.parts, told, hadRecords)
	return wire.Response{Body: &wire.Body{Chunks: body.encode(), Release: release}}
}

// countFetched counts the plan's last read in the partitions' Traffic: the
// record-batch bytes the response carries (file regions included), as
// consumer bytes out or replication bytes out, and a failed fetch per
// partition answered with an error. An incremental session response
// leaves out only partitions with no records and no error, so what is
// counted here is what is sent.
func (h *Handler) countFetched(plan *fetchPlan) {
	for _, tg := range plan.targets {
		fp := &plan.body.topics[tg.topicIdx].partitions[tg.partIndex]
		if fp.errorCode != 0 {
			h.countError(1, fp.errorCode)
		}
		if tg.p == nil {
			continue
		}
		tr := tg.p.Traffic()
		if fp.errorCode != 0 {
			tr.FailedFetch.Add(1)
		}
		n := uint64(len(fp.recordBytes))
		if fp.records != nil {
			n = uint64(fp.records.Len)
		}
		switch {
		case n == 0:
		case plan.replica >= 0:
			tr.ReplicationOut.Add(n)
		default:
			tr.BytesOut.Add(n)
		}
	}
}

func (h *Handler) countError(key, code int16) {
	if h.CountError != nil {
		h.CountError(key, code)
	}
}

// readForFollower serves one partition of a follower's fetch into fp and
// reports whether the fetch must be answered at once (an error, a
// divergence). Kafka's Partition.fetchRecords: the epoch
// check, the divergence check on LastFetchedEpoch, the read to the log
// end, then the follower's new position.
func (h *Handler) readForFollower(replica int32, replicaEpoch int64, tg *fetchTarget, fp *fetchPartition, total *int64, limit int64, releases *[]func()) bool {
	p := tg.p
	fail := func(err error) bool {
		fp.errorCode = h.code(err)
		fp.highWatermark, fp.lastStable, fp.logStart = -1, -1, -1
		return true
	}
	if err := p.CheckLeader(tg.leaderEp); err != nil {
		return fail(err)
	}
	if tg.lastEpoch >= 0 {
		epoch, end := p.EndOffsetForEpoch(tg.lastEpoch)
		if epoch < tg.lastEpoch || end < tg.offset {
			// The follower truncates and fetches again at once; its
			// position is not recorded, as Kafka does not.
			fp.errorCode = 0
			fp.diverging, fp.divergingEpoch, fp.divergingEnd = true, epoch, end
			fp.highWatermark, fp.lastStable, fp.logStart = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
			return true
		}
	}
	room := min(tg.maxBytes, limit-*total)
	minOne := *total == 0
	var res partition.ReadResult
	var err error
	if room > 0 || minOne {
		res, err = p.ReadForFollower(tg.offset, max(room, 0), minOne)
		if err != nil {
			return fail(err)
		}
	}
	// The high watermark may move: the response carries the new one.
	if err := h.Replicas.FollowerFetched(p, replica, replicaEpoch, tg.offset, time.Now()); err != nil {
		if res.Slice.Len > 0 {
			res.Slice.Release()
		}
		return fail(err)
	}
	fp.errorCode = 0
	fp.highWatermark, fp.lastStable, fp.logStart = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
	if res.Slice.Len > 0 {
		s := res.Slice
		fp.records = &wire.Region{File: s.File, Fd: s.File.Fd(), Off: s.Pos, Len: s.Len}
		*total += s.Len
		*releases = append(*releases, s.Release)
	}
	return false
}
