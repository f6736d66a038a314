package txn

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/controller"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// staticMetadata is a controller whose image the test sets: one
// __transaction_state partition led by node 1 with node 2 in its ISR,
// and a topic "t" led by node 1.
type staticMetadata struct {
	mu   sync.Mutex
	img  *metadata.Image
	subs []func(prev, next *metadata.Image)
}

func (m *staticMetadata) image(epoch int32) *metadata.Image {
	img := metadata.Empty("replicated-test", 1)
	img.Brokers = map[int32]metadata.Broker{1: {NodeID: 1, Host: "127.0.0.1", Port: 9092}, 2: {NodeID: 2, Host: "127.0.0.1", Port: 9093}}
	img.Topics = map[string]*metadata.Topic{
		TopicName: {Name: TopicName, ID: metadata.UUID{1}, Internal: true, Partitions: []metadata.Partition{
			{Index: 0, Leader: 1, LeaderEpoch: epoch, Replicas: []int32{1, 2}, ISR: []int32{1, 2}}}},
		"t": {Name: "t", ID: metadata.UUID{2}, Partitions: []metadata.Partition{{Index: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}}},
	}
	return img
}

func (m *staticMetadata) Image() *metadata.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.img
}

func (m *staticMetadata) Subscribe(fn func(prev, next *metadata.Image)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subs = append(m.subs, fn)
	fn(metadata.Empty("replicated-test", 1), m.img)
}

func (m *staticMetadata) publish(next *metadata.Image) {
	m.mu.Lock()
	prev := m.img
	m.img = next
	subs := m.subs
	m.mu.Unlock()
	for _, fn := range subs {
		fn(prev, next)
	}
}

func (*staticMetadata) CreateTopics(context.Context, []controller.TopicSpec, bool) ([]controller.Created, []error) {
	panic("not used")
}

type oneReplica struct{ p *partition.Partition }

func (r oneReplica) Partition(topic string, index int32) *partition.Partition {
	if topic == TopicName && index == 0 {
		return r.p
	}
	return nil
}

// replicatedEnv is a coordinator on one __transaction_state partition
// whose ISR is this node (1) and a follower (2) that the test plays: the
// high watermark moves only when the test says the follower fetched.
type replicatedEnv struct {
	t       *testing.T
	md      *staticMetadata
	p       *partition.Partition
	markers *fakeMarkers
	c       *Coordinator
}

func newReplicatedEnv(t *testing.T) *replicatedEnv {
	t.Helper()
	cfg, err := config.Load("", []string{"transaction.state.log.num.partitions=1"}, map[string]string{"log.dirs": t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p, err := partition.OpenReplica(t.TempDir(), TopicName, 0, partition.Config{
		MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1, Compact: true,
		TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
	}, partition.ReplicaOptions{LocalID: 1, HighWatermark: -1, LagTimeMax: time.Hour}, log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if _, err := p.MakeLeader(0, []int32{1, 2}, []int32{1, 2}, 0); err != nil {
		t.Fatal(err)
	}
	md := &staticMetadata{}
	md.img = md.image(0)
	e := &replicatedEnv{t: t, md: md, p: p, markers: &fakeMarkers{}}
	next := int64(1000)
	var mu sync.Mutex
	e.c = New(cfg, e.md, oneReplica{p}, Options{Logger: slog.New(slog.DiscardHandler), Markers: e.markers, MarkerBackoff: time.Millisecond,
		ProducerIDs: NewProducerIDs(1, func(context.Context, int32, int64) (int64, error) {
			mu.Lock()
			defer mu.Unlock()
			next += 1000
			return next, nil
		})})
	e.c.Start()
	t.Cleanup(func() { e.c.Close() })
	e.waitLoaded()
	return e
}

func (e *replicatedEnv) waitLoaded() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, _, err := e.c.List(ListFilter{DurationMs: -1}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("not loaded within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// replicate has the follower fetch up to the leader's log end.
func (e *replicatedEnv) replicate() { e.p.UpdateFollower(2, e.p.LogEndOffset(), time.Now()) }

// async runs a pending answer on its own goroutine.
func async[T any](p Pending[T]) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- p(context.Background()) }()
	return ch
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no answer within 10s")
		panic("unreachable")
	}
}

func notYet[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("answered before replication: %+v", v)
	default:
	}
}

// TestTransitionsWaitForReplication: each transition is answered, and
// applied, only once the high watermark covers it; meanwhile the id is
// pending and other requests are CONCURRENT_TRANSACTIONS; the markers go
// out only after the decision is committed.
func TestTransitionsWaitForReplication(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	init := async(e.c.InitProducerID(bg, "tx", 10000, -1, -1))
	notYet(t, init)
	wantErr(t, "init while the id is written", e.c.InitProducerID(bg, "tx", 10000, -1, -1)(bg).Err, kerr.ConcurrentTransactions)
	e.replicate()
	res := recv(t, init)
	if res.Err != nil || res.Epoch != 0 {
		t.Fatalf("init: %+v", res)
	}
	add := async(e.c.AddPartitions("tx", res.ProducerID, 0, []TopicPartition{tp("t", 0)}, 0))
	notYet(t, add)
	if s := e.c.Describe("tx").State; s != "Empty" {
		t.Fatalf("state %s before the addition is committed", s)
	}
	wantErr(t, "end while adding", e.c.EndTxn("tx", res.ProducerID, 0, true, 0)(bg).Err, kerr.ConcurrentTransactions)
	e.replicate()
	wantErr(t, "add", recv(t, add), nil)
	end := async(e.c.EndTxn("tx", res.ProducerID, 0, true, 0))
	notYet(t, end)
	if n := e.markers.count(); n != 0 {
		t.Fatalf("%d markers before the decision is committed", n)
	}
	e.replicate()
	if r := recv(t, end); r.Err != nil {
		t.Fatalf("end: %+v", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.c.Describe("tx").State != "CompleteCommit" {
		e.replicate() // the completion
		if time.Now().After(deadline) {
			t.Fatalf("state %s", e.c.Describe("tx").State)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDecisionSurvivesLeaderChange: a commit decision written but not yet
// replicated when the partition moves to a new leader epoch is answered
// NOT_COORDINATOR; the coordinator of the new epoch loads the decision
// (the log's tail is its history) and completes it with commit markers at
// the new coordinator epoch: the decision is neither lost nor flipped.
func TestDecisionSurvivesLeaderChange(t *testing.T) {
	t.Parallel()
	e := newReplicatedEnv(t)
	init := async(e.c.InitProducerID(bg, "tx", 10000, -1, -1))
	e.replicate()
	res := recv(t, init)
	add := async(e.c.AddPartitions("tx", res.ProducerID, 0, []TopicPartition{tp("t", 0)}, 0))
	e.replicate()
	wantErr(t, "add", recv(t, add), nil)
	end := async(e.c.EndTxn("tx", res.ProducerID, 0, true, 0))
	notYet(t, end)
	if _, err := e.p.MakeLeader(1, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "end across the epoch change", recv(t, end).Err, kerr.NotCoordinator)
	e.md.publish(e.md.image(1))
	e.replicate()
	e.waitLoaded()
	deadline := time.Now().Add(10 * time.Second)
	for e.c.Describe("tx").State != "CompleteCommit" {
		e.replicate()
		if time.Now().After(deadline) {
			t.Fatalf("state %s", e.c.Describe("tx").State)
		}
		time.Sleep(time.Millisecond)
	}
	calls := e.markers.snapshot()
	if len(calls) == 0 {
		t.Fatal("no markers")
	}
	for _, c := range calls {
		mk := c.req.Markers[0]
		if !mk.Committed || mk.CoordinatorEpoch != 1 || mk.ProducerID != res.ProducerID {
			t.Fatalf("marker %+v", mk)
		}
	}
	// The retry of the client that got NOT_COORDINATOR is answered as
	// done.
	if r := e.c.EndTxn("tx", res.ProducerID, 0, true, 0)(bg); r.Err != nil {
		t.Fatalf("retry: %+v", r)
	}
}
