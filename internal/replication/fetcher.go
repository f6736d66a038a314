package replication

// Follower fetchers: Kafka's ReplicaFetcherManager and ReplicaFetcherThread.
// A follower replica is fetched by one fetcher per (leader, fetcher index),
// num.replica.fetchers per leader, the index a hash of the partition as
// Kafka's getFetcherId. Each fetcher is one goroutine sending Fetch to the
// leader's client listener with a franz-go client, appending what it gets
// and taking the leader's high watermark. It sends the highest version both
// sides serve up to maxFetchVersion (v15+ as Kafka's followers: the replica
// id and this broker's epoch in ReplicaState, KIP-903; topics by id,
// KIP-516; LastFetchedEpoch and DivergingEpoch from v12, KIP-595), in a
// fetch session (KIP-227, session.go), so that a follower of many
// partitions sends, and its leader reads, only what changed.
//
// Membership changes only in Apply (add, remove, setBrokers), which never
// waits for the network: it edits a fetcher's partition set under the
// fetcher's lock and wakes it.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// maxFetchVersion is the highest Fetch version followers send, the highest
// samsa's leader serves (api/01_fetch.go); the client negotiates down to
// the leader's. v12 is the first with LastFetchedEpoch and DivergingEpoch;
// a request carries topic names and ids, replica id and ReplicaState, and
// the encoder writes what its version has.
const maxFetchVersion = 16

// FetchConfig is the replica.fetch.* configuration.
type FetchConfig struct {
	MaxBytes         int32         // replica.fetch.max.bytes, per partition
	MinBytes         int32         // replica.fetch.min.bytes
	ResponseMaxBytes int32         // replica.fetch.response.max.bytes
	MaxWait          time.Duration // replica.fetch.wait.max.ms
	Backoff          time.Duration // replica.fetch.backoff.ms
	NumFetchers      int           // num.replica.fetchers
}

func (c FetchConfig) withDefaults() FetchConfig {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.MinBytes <= 0 {
		c.MinBytes = 1
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.NumFetchers <= 0 {
		c.NumFetchers = 1
	}
	return c
}

type fetcherKey struct {
	leader int32
	index  int
}

// fetchers is the set of fetchers of one broker. Locks: fetchers.mu →
// fetcher.mu.
type fetchers struct {
	node        int32
	brokerEpoch func() int64 // this broker's epoch, -1 unknown
	cfg         FetchConfig
	log         *slog.Logger

	mu      sync.Mutex
	closed  bool
	addrs   map[int32]string // the brokers' client listeners
	running map[fetcherKey]*fetcher
	where   map[log.TopicPartition]fetcherKey
}

func newFetchers(node int32, brokerEpoch func() int64, cfg FetchConfig, logger *slog.Logger) *fetchers {
	if brokerEpoch == nil {
		brokerEpoch = func() int64 { return -1 }
	}
	return &fetchers{node: node, brokerEpoch: brokerEpoch, cfg: cfg.withDefaults(), log: logger,
		addrs: map[int32]string{}, running: map[fetcherKey]*fetcher{}, where: map[log.TopicPartition]fetcherKey{}}
}

func (fs *fetchers) key(tp log.TopicPartition, leader int32) fetcherKey {
	h := fnv.New32a()
	h.Write([]byte(tp.Topic))
	h.Write([]byte{byte(tp.Partition >> 24), byte(tp.Partition >> 16), byte(tp.Partition >> 8), byte(tp.Partition)})
	return fetcherKey{leader: leader, index: int(h.Sum32() % uint32(fs.cfg.NumFetchers))}
}

// setBrokers records the brokers' addresses from img. A fetcher whose
// leader moved to another address is restarted there, with its
// partitions; every fetcher's backed-off partitions are retried (a new
// image may have brought what they waited for).
func (fs *fetchers) setBrokers(img *metadata.Image) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	addrs := map[int32]string{}
	for id, b := range img.Brokers {
		addrs[id] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
	}
	fs.addrs = addrs
	for k, f := range fs.running {
		if a := addrs[k.leader]; a != f.addr {
			parts := f.stop()
			delete(fs.running, k)
			if a == "" {
				for tp := range parts {
					delete(fs.where, tp)
				}
				continue
			}
			nf := fs.start(k, a)
			for tp, fp := range parts {
				nf.add(tp, fp.topicID, fp.part, fp.epoch)
			}
			continue
		}
		f.retry()
	}
}

func (fs *fetchers) start(k fetcherKey, addr string) *fetcher {
	f := newFetcher(fs.node, fs.brokerEpoch, k, addr, fs.cfg, fs.log)
	fs.running[k] = f
	return f
}

// has reports whether tp is fetched from leader.
func (fs *fetchers) has(tp log.TopicPartition, leader int32) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	k, ok := fs.where[tp]
	return ok && k.leader == leader
}

// add makes tp (of the topic with topicID) fetched from leader in epoch
// (moving it from another fetcher if needed). A leader with no known
// address is skipped: the next image that registers it adds the partition
// again.
func (fs *fetchers) add(tp log.TopicPartition, topicID metadata.UUID, leader, epoch int32, p *partition.Partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.closed {
		return
	}
	fs.removeLocked(tp)
	addr := fs.addrs[leader]
	if addr == "" {
		fs.log.Warn("follower's leader has no address", "topic", tp.Topic, "partition", tp.Partition, "leader", leader)
		return
	}
	k := fs.key(tp, leader)
	f := fs.running[k]
	if f == nil {
		f = fs.start(k, addr)
	}
	f.add(tp, topicID, p, epoch)
	fs.where[tp] = k
}

// remove stops fetching tp.
func (fs *fetchers) remove(tp log.TopicPartition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.removeLocked(tp)
}

func (fs *fetchers) removeLocked(tp log.TopicPartition) {
	k, ok := fs.where[tp]
	if !ok {
		return
	}
	delete(fs.where, tp)
	f := fs.running[k]
	if f != nil && f.remove(tp) == 0 {
		f.stop()
		delete(fs.running, k)
	}
}

// close stops every fetcher and waits for them.
func (fs *fetchers) close() {
	fs.mu.Lock()
	fs.closed = true
	running := fs.running
	fs.running, fs.where = map[fetcherKey]*fetcher{}, map[log.TopicPartition]fetcherKey{}
	fs.mu.Unlock()
	for _, f := range running {
		f.stop()
	}
}

// fetchPart is one partition a fetcher fetches.
type fetchPart struct {
	part    *partition.Partition
	topicID metadata.UUID
	epoch   int32     // the leader epoch it follows in
	until   time.Time // backed off until then
}

// fetcher is one fetcher goroutine and its partitions.
type fetcher struct {
	node        int32
	brokerEpoch func() int64
	key         fetcherKey
	addr        string
	cfg         FetchConfig
	log         *slog.Logger
	cl          *kgo.Client

	mu    sync.Mutex
	parts map[log.TopicPartition]*fetchPart

	session followerSession // the fetcher goroutine's only

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

func newFetcher(node int32, brokerEpoch func() int64, k fetcherKey, addr string, cfg FetchConfig, logger *slog.Logger) *fetcher {
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(1, maxFetchVersion)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.MaxVersions(vs),
		kgo.ClientID("samsa-replica-fetcher-"+strconv.Itoa(int(node))),
		kgo.FetchMaxBytes(cfg.ResponseMaxBytes), kgo.BrokerMaxReadBytes(cfg.ResponseMaxBytes+(1<<20)))
	ctx, cancel := context.WithCancel(context.Background())
	f := &fetcher{node: node, brokerEpoch: brokerEpoch, key: k, addr: addr, cfg: cfg,
		log:   logger.With("fetcher_leader", k.leader, "fetcher_index", k.index),
		cl:    cl,
		parts: map[log.TopicPartition]*fetchPart{}, wake: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	if err != nil {
		// Only bad options fail NewClient; ours are fixed.
		f.log.Error("cannot create the fetcher's client", "err", err)
		close(f.done)
		return f
	}
	go f.run(ctx)
	return f
}

func (f *fetcher) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fetcher) add(tp log.TopicPartition, topicID metadata.UUID, p *partition.Partition, epoch int32) {
	f.mu.Lock()
	f.parts[tp] = &fetchPart{part: p, topicID: topicID, epoch: epoch}
	f.mu.Unlock()
	f.signal()
}

// remove drops tp and returns how many partitions are left.
func (f *fetcher) remove(tp log.TopicPartition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.parts, tp)
	return len(f.parts)
}

func (f *fetcher) retry() {
	f.mu.Lock()
	for _, fp := range f.parts {
		fp.until = time.Time{}
	}
	f.mu.Unlock()
	f.signal()
}

// stop ends the goroutine, waits for it, and returns the partitions.
func (f *fetcher) stop() map[log.TopicPartition]*fetchPart {
	f.cancel()
	<-f.done
	if f.cl != nil {
		f.cl.Close()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts
}

// current returns the partitions to fetch now, and when the earliest
// backed-off one is due.
func (f *fetcher) current(now time.Time) (map[log.TopicPartition]*fetchPart, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ready := map[log.TopicPartition]*fetchPart{}
	var next time.Time
	for tp, fp := range f.parts {
		if now.Before(fp.until) {
			if next.IsZero() || fp.until.Before(next) {
				next = fp.until
			}
			continue
		}
		ready[tp] = fp
	}
	return ready, next
}

// live reports whether fp is still what the fetcher fetches for tp (a
// removal or a new epoch replaces it).
func (f *fetcher) live(tp log.TopicPartition, fp *fetchPart) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.parts[tp] == fp
}

func (f *fetcher) backOff(tp log.TopicPartition, fp *fetchPart) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.parts[tp] == fp {
		fp.until = time.Now().Add(f.cfg.Backoff)
	}
}

func (f *fetcher) run(ctx context.Context) {
	defer close(f.done)
	for ctx.Err() == nil {
		ready, next := f.current(time.Now())
		if len(ready) == 0 {
			var timer <-chan time.Time
			var t *time.Timer
			if !next.IsZero() {
				t = time.NewTimer(time.Until(next))
				timer = t.C
			}
			select {
			case <-ctx.Done():
			case <-f.wake:
			case <-timer:
			}
			if t != nil {
				t.Stop()
			}
			continue
		}
		if err := f.fetchOnce(ctx, ready); err != nil && ctx.Err() == nil {
			f.log.Warn("replica fetch failed", "addr", f.addr, "err", err)
			for tp, fp := range ready {
				f.backOff(tp, fp)
			}
		}
	}
}

// fetchOnce sends one Fetch for ready, in the fetcher's session, and
// handles the answer.
func (f *fetcher) fetchOnce(ctx context.Context, ready map[log.TopicPartition]*fetchPart) error {
	want := make(map[log.TopicPartition]partFetchState, len(ready))
	for tp, fp := range ready {
		want[tp] = fp.state(f.cfg.MaxBytes)
	}
	sf := f.session.build(want)
	req := buildFetchRequest(sf, f.node, f.brokerEpoch(), f.cfg)
	rctx, cancel := context.WithTimeout(ctx, f.cfg.MaxWait+30*time.Second)
	defer cancel()
	seeds := f.cl.SeedBrokers()
	if len(seeds) == 0 {
		return errors.New("replication: the fetcher's client has no broker")
	}
	br := seeds[0]
	kresp, err := br.Request(rctx, req)
	if err != nil {
		f.session.failed()
		return err
	}
	resp := kresp.(*kmsg.FetchResponse)
	f.session.answered(sf, resp.ErrorCode, resp.SessionID)
	switch err := kerr.ErrorForCode(resp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.FetchSessionIDNotFound), errors.Is(err, kerr.InvalidFetchSessionEpoch),
		errors.Is(err, kerr.FetchSessionTopicIDError):
		// The session is gone or out of step: the next fetch, at once,
		// is full and starts a new one (a full fetch never meets these).
		f.log.Info("follower's fetch session reset", "addr", f.addr, "err", err)
		return nil
	default:
		return err
	}
	byID := map[[16]byte]string{}
	for tp, fp := range ready {
		byID[[16]byte(fp.topicID)] = tp.Topic
	}
	for _, t := range resp.Topics {
		name := t.Topic
		if resp.GetVersion() >= 13 {
			name = byID[t.TopicID]
		}
		for _, rp := range t.Partitions {
			tp := log.TopicPartition{Topic: name, Partition: rp.Partition}
			fp := ready[tp]
			if fp == nil || !f.live(tp, fp) {
				continue
			}
			if err := f.handle(ctx, br, tp, fp, &rp); err != nil {
				// Debug: a leader change makes every partition it led
				// back off at once (NOT_LEADER_OR_FOLLOWER until the
				// metadata settles), a line each at info would flood
				// the log with an expected transient.
				f.log.Debug("follower backs off", "topic", tp.Topic, "partition", tp.Partition, "err", err)
				f.backOff(tp, fp)
			}
		}
	}
	return nil
}

// state is what a fetch says about fp now.
func (fp *fetchPart) state(maxBytes int32) partFetchState {
	return partFetchState{TopicID: [16]byte(fp.topicID), FetchOffset: fp.part.LogEndOffset(), LogStartOffset: fp.part.LogStartOffset(),
		CurrentEpoch: fp.epoch, LastFetchedEpoch: fp.part.LatestEpoch(), MaxBytes: maxBytes}
}

// buildFetchRequest is the Fetch for sf from follower node of broker epoch
// brokerEpoch. It carries every field of every version the client may
// negotiate (topic names and ids, the replica id at the top and in
// ReplicaState); kmsg writes those of the version sent.
func buildFetchRequest(sf *sessionFetch, node int32, brokerEpoch int64, cfg FetchConfig) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = maxFetchVersion
	req.ReplicaID = node
	req.ReplicaState.ID, req.ReplicaState.Epoch = node, brokerEpoch
	req.MaxWaitMillis = int32(cfg.MaxWait / time.Millisecond)
	req.MinBytes = cfg.MinBytes
	req.MaxBytes = cfg.ResponseMaxBytes
	req.SessionID, req.SessionEpoch = sf.SessionID, sf.SessionEpoch
	for _, tp := range sf.Send {
		st := sf.want[tp]
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = tp.Topic, st.TopicID
			req.Topics = append(req.Topics, t)
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.CurrentLeaderEpoch = st.CurrentEpoch
		rp.FetchOffset = st.FetchOffset
		rp.LastFetchedEpoch = st.LastFetchedEpoch
		rp.LogStartOffset = st.LogStartOffset
		rp.PartitionMaxBytes = st.MaxBytes
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, rp)
	}
	for _, tp := range sf.Forget {
		if n := len(req.ForgottenTopics); n == 0 || req.ForgottenTopics[n-1].Topic != tp.Topic {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.TopicID = tp.Topic, sf.forgetIDs[tp.Topic]
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		}
		ft := &req.ForgottenTopics[len(req.ForgottenTopics)-1]
		ft.Partitions = append(ft.Partitions, tp.Partition)
	}
	return req
}

// handle applies one partition of a fetch response to the follower.
func (f *fetcher) handle(ctx context.Context, br *kgo.Broker, tp log.TopicPartition, fp *fetchPart, rp *kmsg.FetchResponseTopicPartition) error {
	p := fp.part
	switch err := kerr.ErrorForCode(rp.ErrorCode); {
	case err == nil:
	case errors.Is(err, kerr.OffsetOutOfRange):
		return f.outOfRange(ctx, br, tp, fp)
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
		// UNKNOWN_LEADER_EPOCH, ...: wait for the metadata to settle.
		return err
	}
	if d := rp.DivergingEpoch; d.Epoch >= 0 && d.EndOffset >= 0 {
		localEpoch, localEnd := p.EndOffsetForEpoch(d.Epoch)
		leo, last := p.LogEndOffset(), p.LatestEpoch()
		to, _ := truncationOffset(d.Epoch, d.EndOffset, localEpoch, localEnd, leo, p.HighWatermark())
		f.log.Info("follower truncates to the leader's log", "topic", tp.Topic, "partition", tp.Partition,
			"diverging_epoch", d.Epoch, "diverging_end", d.EndOffset, "to", to)
		// At the log end this only drops an epoch entry that holds no
		// batch (log.Truncate).
		if err := p.TruncateTo(to); err != nil {
			return err
		}
		if p.LogEndOffset() == leo && p.LatestEpoch() == last {
			// Nothing changed, yet the leader sees a divergence:
			// fetching again at once would spin.
			return fmt.Errorf("replication: diverging epoch %d (end %d) leaves the log end %d in place", d.Epoch, d.EndOffset, leo)
		}
		return nil
	}
	if len(rp.RecordBatches) > 0 {
		if _, err := p.AppendReplicated(fp.epoch, rp.RecordBatches); err != nil {
			return err
		}
	}
	if err := p.SetFollowerHW(rp.HighWatermark); err != nil {
		return err
	}
	// The leader's log start (DeleteRecords) moves the follower's too, as
	// Kafka's maybeIncrementLogStartOffset, within what is committed here.
	if ls := rp.LogStartOffset; ls > p.LogStartOffset() && ls <= p.HighWatermark() && p.Config().Delete {
		if _, err := p.DeleteRecords(ls); err != nil {
			f.log.Warn("follower cannot follow the leader's log start", "topic", tp.Topic, "partition", tp.Partition, "log_start", ls, "err", err)
		}
	}
	return nil
}

// outOfRange handles OFFSET_OUT_OF_RANGE as Kafka's follower does: a log
// end above the leader's is cut back; one below the leader's log start
// restarts the log there.
func (f *fetcher) outOfRange(ctx context.Context, br *kgo.Broker, tp log.TopicPartition, fp *fetchPart) error {
	end, err := f.leaderOffset(ctx, br, tp, fp.epoch, -1)
	if err != nil {
		return err
	}
	p := fp.part
	if p.LogEndOffset() > end {
		return p.TruncateTo(end)
	}
	start, err := f.leaderOffset(ctx, br, tp, fp.epoch, -2)
	if err != nil {
		return err
	}
	if p.LogEndOffset() < start {
		return p.TruncateFullyAndStartAt(start)
	}
	return nil
}

// leaderOffset asks the leader for its latest (-1) or earliest (-2)
// offset with ListOffsets. Latest is the leader's high watermark, at or
// below its log end: a follower cut to it fetches the rest again.
func (f *fetcher) leaderOffset(ctx context.Context, br *kgo.Broker, tp log.TopicPartition, epoch int32, ts int64) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = f.node
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = tp.Topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.CurrentLeaderEpoch, rp.Timestamp = tp.Partition, epoch, ts
	t.Partitions = append(t.Partitions, rp)
	req.Topics = append(req.Topics, t)
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	kresp, err := br.Request(rctx, req)
	if err != nil {
		return 0, err
	}
	resp := kresp.(*kmsg.ListOffsetsResponse)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.Partition == tp.Partition {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, err
				}
				return p.Offset, nil
			}
		}
	}
	return 0, errors.New("replication: ListOffsets answered without the partition")
}

// truncationOffset is where a follower cuts its log given the leader's
// end offset for leaderEpoch (a DivergingEpoch or an OffsetForLeaderEpoch
// answer) and its own (localEpoch, localEnd) = EndOffsetForEpoch(
// leaderEpoch), its log end leo and high watermark hw: Kafka's
// AbstractFetcherThread.getOffsetTruncationState. done is false when the
// follower does not know leaderEpoch: it cuts to the end of the largest
// epoch below and asks again (the next fetch's LastFetchedEpoch).
func truncationOffset(leaderEpoch int32, leaderEnd int64, localEpoch int32, localEnd, leo, hw int64) (offset int64, done bool) {
	switch {
	case leaderEnd < 0:
		// The leader knows nothing of the epoch: keep what is committed.
		return min(hw, leo), true
	case leaderEpoch < 0 || localEpoch < 0:
		return min(leaderEnd, leo), true
	case localEpoch != leaderEpoch:
		return min(leaderEnd, localEnd, leo), false
	default:
		return min(leaderEnd, localEnd, leo), true
	}
}
