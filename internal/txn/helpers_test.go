package txn

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/replication"
)

// fakeClock is a manual clock: timers fire, in deadline order and on the
// caller's goroutine, only when Advance moves time past them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool
	seq  int
}

func newFakeClock() *fakeClock {
	// In the past, so that records stamped with this clock are never
	// "from the future" for the partition's timestamp checks.
	return &fakeClock{now: time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, seq: len(c.timers)}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves time forward by d, firing every timer that falls due,
// including timers those timers arm within the window.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		live := c.timers[:0]
		for _, t := range c.timers {
			if t.done {
				continue
			}
			live = append(live, t)
			if !t.at.After(target) && (next == nil || t.at.Before(next.at) || (t.at.Equal(next.at) && t.seq < next.seq)) {
				next = t
			}
		}
		c.timers = live
		if next == nil {
			c.now = target
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.done = true
		c.mu.Unlock()
		next.f()
	}
}

// fakeMarkers records WriteTxnMarkers and answers them with answer (every
// partition NONE when nil).
type fakeMarkers struct {
	mu     sync.Mutex
	calls  []markerCall
	answer func(node int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)
}

type markerCall struct {
	node int32
	req  *kmsg.WriteTxnMarkersRequest
}

func (f *fakeMarkers) WriteTxnMarkers(_ context.Context, node int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error) {
	f.mu.Lock()
	f.calls = append(f.calls, markerCall{node: node, req: req})
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(node, req)
	}
	return answerAll(req, 0), nil
}

func (f *fakeMarkers) setAnswer(a func(node int32, req *kmsg.WriteTxnMarkersRequest) (*kmsg.WriteTxnMarkersResponse, error)) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func (f *fakeMarkers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeMarkers) snapshot() []markerCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakePeers answers requests to other brokers with answer.
type fakePeers struct {
	mu     sync.Mutex
	nodes  []int32
	reqs   []kmsg.Request
	answer func(node int32, req kmsg.Request) (kmsg.Response, error)
}

func (f *fakePeers) Request(_ context.Context, node int32, req kmsg.Request) (kmsg.Response, error) {
	f.mu.Lock()
	f.nodes = append(f.nodes, node)
	f.reqs = append(f.reqs, req)
	answer := f.answer
	f.mu.Unlock()
	return answer(node, req)
}

// answerAll answers every partition of req with code.
func answerAll(req *kmsg.WriteTxnMarkersRequest, code int16) *kmsg.WriteTxnMarkersResponse {
	resp := kmsg.NewPtrWriteTxnMarkersResponse()
	for _, mk := range req.Markers {
		rm := kmsg.WriteTxnMarkersResponseMarker{ProducerID: mk.ProducerID}
		for _, t := range mk.Topics {
			rt := kmsg.WriteTxnMarkersResponseMarkerTopic{Topic: t.Topic}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.WriteTxnMarkersResponseMarkerTopicPartition{Partition: p, ErrorCode: code})
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	return resp
}

// env is a coordinator on a real one-node controller, replica manager
// and partitions in a temporary directory, with a fake clock and a fake
// marker sender.
type env struct {
	t       *testing.T
	dir     string
	sets    []string
	clock   *fakeClock
	markers *fakeMarkers
	peers   *fakePeers
	tv      atomic.Int32 // the transaction version the coordinator runs at; 0: the image's
	cfg     *config.Broker
	ctl     *controller.OneNode
	reps    *replication.Manager
	c       *Coordinator
}

var defaultSets = []string{
	"transaction.state.log.num.partitions=3",
	"transaction.max.timeout.ms=60000",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
	"transaction.remove.expired.transaction.cleanup.interval.ms=60000",
	"transactional.id.expiration.ms=600000",
}

func newEnv(t *testing.T, sets ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), sets: append(slices.Clone(defaultSets), sets...), clock: newFakeClock(), markers: &fakeMarkers{}, peers: &fakePeers{}}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	t := e.t
	t.Helper()
	cfg, err := config.Load("", e.sets, map[string]string{"log.dirs": e.dir})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.ctl, err = controller.OpenOneNode(controller.Config{
		DataDir: e.dir, NodeID: cfg.NodeID, ClusterID: "txn-test",
		DefaultPartitions: 1, DefaultReplicationFactor: 1, ValidateConfigs: cfg.ValidateTopicOverrides,
	}, "127.0.0.1", 9092)
	if err != nil {
		t.Fatal(err)
	}
	e.reps = replication.New(replication.Config{
		NodeID: cfg.NodeID, DataDir: e.dir,
		Resolve: func(o map[string]string) partition.Config {
			tc := cfg.ResolveTopic(o)
			return partition.Config{
				Log:               log.Config{SegmentBytes: tc.SegmentBytes},
				MaxMessageBytes:   tc.MaxMessageBytes,
				MinInsyncReplicas: 1, Compact: true,
				TimestampBeforeMaxMs: tc.TimestampBeforeMaxMs, TimestampAfterMaxMs: tc.TimestampAfterMaxMs,
			}
		},
	})
	e.ctl.Subscribe(e.reps.Apply)
	e.c = New(cfg, e.ctl, e.reps, Options{
		Clock: e.clock, Logger: slog.New(slog.DiscardHandler),
		ProducerIDs: NewProducerIDs(cfg.NodeID, e.ctl.AllocateProducerIDs),
		Markers:     e.markers, Peers: e.peers, MarkerBackoff: time.Millisecond,
		TransactionVersion: func() int16 {
			if v := e.tv.Load(); v != 0 {
				return int16(v)
			}
			return e.ctl.Image().Features[metadata.TransactionVersionFeature]
		},
	})
	e.c.Start()
	if _, err := e.c.FindCoordinator(context.Background(), "any"); err != nil {
		t.Fatal(err)
	}
	e.waitLoaded()
	if e.ctl.Image().Topics["t"] == nil {
		e.createTopic("t", 3)
	}
}

// waitLoaded polls, with a deadline, until every shard has loaded.
func (e *env) waitLoaded() {
	e.t.Helper()
	e.eventually("the coordinator loads", func() bool {
		_, _, err := e.c.List(ListFilter{DurationMs: -1})
		return err == nil
	})
}

// eventually polls cond until it holds, failing after 10 s.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (e *env) close() {
	if e.c == nil {
		return
	}
	e.c.Close()
	e.reps.Close()
	e.ctl.Close()
	e.c = nil
}

// restart closes everything and reopens it on the same directory, as a
// broker restart does: the coordinator loads from its log.
func (e *env) restart() {
	e.t.Helper()
	e.close()
	e.open()
}

func (e *env) createTopic(name string, partitions int32) {
	e.t.Helper()
	_, errs := e.ctl.CreateTopics(context.Background(), []controller.TopicSpec{{Name: name, NumPartitions: partitions, ReplicationFactor: 1}}, false)
	if errs[0] != nil {
		e.t.Fatal(errs[0])
	}
}

func (e *env) createInternalTopic(name string, partitions int32) {
	e.t.Helper()
	_, errs := e.ctl.CreateTopics(context.Background(), []controller.TopicSpec{{Name: name, NumPartitions: partitions, ReplicationFactor: 1, Internal: true}}, false)
	if errs[0] != nil {
		e.t.Fatal(errs[0])
	}
}

func (e *env) deleteTopic(name string) {
	e.t.Helper()
	if _, errs := e.ctl.DeleteTopics(context.Background(), []string{name}, nil); errs[0] != nil {
		e.t.Fatal(errs[0])
	}
	_ = e.ctl.Pub.WaitFor(context.Background(), e.ctl.Controller.Image().Offset)
}

// producer is a test client of one transactional id.
type producer struct {
	e       *env
	id      string
	pid     int64
	epoch   int16
	timeout int32
}

func (e *env) producer(id string) *producer {
	return &producer{e: e, id: id, pid: -1, epoch: -1, timeout: 10000}
}

var bg = context.Background()

// init sends InitProducerId (without the KIP-360 fields) and keeps the
// answer when it is a success.
func (p *producer) init() error {
	res := p.e.c.InitProducerID(bg, p.id, p.timeout, -1, -1)(bg)
	if res.Err == nil {
		p.pid, p.epoch = res.ProducerID, res.Epoch
	}
	return res.Err
}

func (p *producer) mustInit() {
	p.e.t.Helper()
	if err := p.init(); err != nil {
		p.e.t.Fatalf("init %s: %v", p.id, err)
	}
}

func (p *producer) add(parts ...TopicPartition) error {
	return p.e.c.AddPartitions(p.id, p.pid, p.epoch, parts, 0)(bg)
}

func (p *producer) end(commit bool) ProducerIDAndEpoch {
	return p.e.c.EndTxn(p.id, p.pid, p.epoch, commit, 0)(bg)
}

func tp(topic string, partition int32) TopicPartition {
	return TopicPartition{Topic: topic, Partition: partition}
}

// describe returns the id's state as DescribeTransactions shows it.
func (e *env) describe(id string) kmsg.DescribeTransactionsResponseTransactionState {
	return e.c.Describe(id)
}

func (e *env) stateOf(id string) string { return e.describe(id).State }

// waitState polls until id is in state.
func (e *env) waitState(id, state string) {
	e.t.Helper()
	e.eventually(id+" reaches "+state, func() bool { return e.stateOf(id) == state })
}

func wantErr(t *testing.T, what string, got error, want *kerr.Error) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Fatalf("%s: got %v, want success", what, got)
		}
		return
	}
	if got != want {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// withImage hands the coordinator a copy of the current image changed by
// edit, as a metadata delivery would (a leadership move, a new epoch).
func (e *env) withImage(edit func(img *metadata.Image)) {
	// Every image the controller has already published reaches the
	// coordinator first: one delivered after the edited copy would undo it.
	if err := e.ctl.Pub.WaitFor(context.Background(), e.ctl.Controller.Image().Offset); err != nil {
		e.t.Fatal(err)
	}
	cur := e.ctl.Pub.Delivered()
	img := *cur
	img.Topics = make(map[string]*metadata.Topic, len(cur.Topics))
	for name, t := range cur.Topics {
		ct := *t
		ct.Partitions = slices.Clone(t.Partitions)
		img.Topics[name] = &ct
	}
	edit(&img)
	e.c.onImage(cur, &img)
}
