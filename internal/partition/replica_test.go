package partition

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
)

// fakeClock is the partitions' and the tests' shared clock.
type fakeClock struct{ ms atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(1_700_000_000_000)
	return c
}

func (c *fakeClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

// replica opens a replica of a multi-node partition in dir.
func replica(t *testing.T, dir string, ro ReplicaOptions, cfg Config, clk *fakeClock) *Partition {
	t.Helper()
	if ro.LagTimeMax == 0 {
		ro.LagTimeMax = 10 * time.Second
	}
	p, err := OpenReplica(dir, "t", 0, cfg, ro, log.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func mustLead(t *testing.T, p *Partition, epoch int32, isr, replicas []int32, pe int32) {
	t.Helper()
	if fresh, err := p.MakeLeader(epoch, isr, replicas, pe); err != nil || !fresh {
		t.Fatalf("MakeLeader(%d): %v, %v", epoch, fresh, err)
	}
}

// produce appends a batch of n records with acks and returns its result.
func produce(t *testing.T, p *Partition, clk *fakeClock, n int, acks int16) AppendResult {
	t.Helper()
	vals := make([]string, n)
	for i := range vals {
		vals[i] = "v"
	}
	res, err := p.AppendAcks(batch(t, record.CodecNone, clk.now().UnixMilli(), vals...), acks)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res
}

func wantHW(t *testing.T, p *Partition, hw int64) {
	t.Helper()
	if got := p.HighWatermark(); got != hw {
		t.Fatalf("high watermark %d, want %d", got, hw)
	}
}

// TestRoleTransitions: stale transitions are ignored, a new leadership
// records its epoch at the log end, and requests are checked against the
// role and epoch with Kafka's errors.
func TestRoleTransitions(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	if _, err := p.Append(batch(t, record.CodecNone, clk.now().UnixMilli(), "x")); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append before any role: %v", err)
	}
	all := []int32{1, 2, 3}
	mustLead(t, p, 5, all, all, 10)
	produce(t, p, clk, 3, 1)

	steps := []struct {
		name      string
		do        func() bool
		applied   bool
		role      Role
		epoch, pe int32
		isr       []int32
	}{
		{"older leader epoch", func() bool { return p.MakeFollower(4, 2, 11) }, false, RoleLeader, 5, 10, all},
		{"older partition epoch", func() bool { ok, _ := p.MakeLeader(5, []int32{1, 2}, all, 9); return ok }, false, RoleLeader, 5, 10, all},
		{"same epoch, new ISR", func() bool { ok, _ := p.MakeLeader(5, []int32{1, 2}, all, 11); return ok }, false, RoleLeader, 5, 11, []int32{1, 2}},
		{"follower in a new epoch", func() bool { return p.MakeFollower(6, 2, 12) }, true, RoleFollower, 6, 12, nil},
		{"same follower again", func() bool { return p.MakeFollower(6, 2, 12) }, false, RoleFollower, 6, 12, nil},
		{"leader again", func() bool { ok, _ := p.MakeLeader(7, []int32{1}, all, 13); return ok }, true, RoleLeader, 7, 13, []int32{1}},
	}
	for _, s := range steps {
		if got := s.do(); got != s.applied {
			t.Fatalf("%s: reported %v, want %v", s.name, got, s.applied)
		}
		if p.Role() != s.role || p.LeaderEpoch() != s.epoch || p.PartitionEpoch() != s.pe || !slices.Equal(p.ISR(), s.isr) {
			t.Fatalf("%s: role %v epoch %d partition epoch %d ISR %v", s.name, p.Role(), p.LeaderEpoch(), p.PartitionEpoch(), p.ISR())
		}
		if s.name == "follower in a new epoch" {
			for _, tc := range []struct {
				current int32
				want    error
			}{{-1, kerr.NotLeaderForPartition}, {5, kerr.FencedLeaderEpoch}, {6, kerr.NotLeaderForPartition}, {7, kerr.UnknownLeaderEpoch}} {
				if err := p.CheckLeader(tc.current); !errors.Is(err, tc.want) {
					t.Fatalf("follower: CheckLeader(%d) = %v, want %v", tc.current, err, tc.want)
				}
			}
			if _, err := p.Append(batch(t, record.CodecNone, clk.now().UnixMilli(), "x")); !errors.Is(err, kerr.NotLeaderForPartition) {
				t.Fatalf("append on a follower: %v", err)
			}
			if p.Leader() != 2 {
				t.Fatalf("leader %d, want 2", p.Leader())
			}
		}
	}
	for _, tc := range []struct {
		current int32
		want    error
	}{{-1, nil}, {7, nil}, {6, kerr.FencedLeaderEpoch}, {8, kerr.UnknownLeaderEpoch}} {
		if err := p.CheckLeader(tc.current); !errors.Is(err, tc.want) {
			t.Fatalf("leader: CheckLeader(%d) = %v, want %v", tc.current, err, tc.want)
		}
	}
	if p.Leader() != 1 {
		t.Fatalf("leader %d, want 1", p.Leader())
	}
	if got, want := p.log.EpochEntries(), []log.EpochEntry{{Epoch: 5, StartOffset: 0}, {Epoch: 7, StartOffset: 3}}; !slices.Equal(got, want) {
		t.Fatalf("epoch entries %v, want %v", got, want)
	}
	if res := produce(t, p, clk, 1, 1); res.LeaderEpoch != 7 {
		t.Fatalf("append stamped epoch %d, want 7", res.LeaderEpoch)
	}
	// Epoch 7 ends at the log end; 5 ends where 7 began; 6 was never
	// this log's: it ends where 7 began too, named by its floor, 5.
	for _, tc := range []struct {
		epoch, wantEpoch int32
		wantEnd          int64
	}{{7, 7, 4}, {6, 5, 3}, {5, 5, 3}, {4, 4, 0}, {8, -1, -1}, {-1, -1, -1}} {
		if e, end := p.EndOffsetForEpoch(tc.epoch); e != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("EndOffsetForEpoch(%d) = (%d, %d), want (%d, %d)", tc.epoch, e, end, tc.wantEpoch, tc.wantEnd)
		}
	}
}

// TestSoleReplica: Open gives the single-node partition of before: the
// leader alone is the ISR, the high watermark follows every append, and
// SetLeaderEpoch moves the epoch, never back.
func TestSoleReplica(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	cfg := defaults()
	cfg.MinInsyncReplicas = 2 // bounded by the replication factor, 1
	p, err := Open(t.TempDir(), "t", 0, 2, cfg, log.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Role() != RoleLeader || p.ISRSize() != 1 || p.LeaderEpoch() != 2 {
		t.Fatalf("role %v, ISR %d, epoch %d", p.Role(), p.ISRSize(), p.LeaderEpoch())
	}
	res := produce(t, p, clk, 2, -1)
	wantHW(t, p, 2)
	if err := p.WaitCommitted(context.Background(), res.LeaderEpoch, res.LastOffset); err != nil {
		t.Fatalf("WaitCommitted: %v", err)
	}
	p.SetLeaderEpoch(4)
	p.SetLeaderEpoch(3)
	if p.LeaderEpoch() != 4 || p.Role() != RoleLeader {
		t.Fatalf("epoch %d role %v", p.LeaderEpoch(), p.Role())
	}
	if res := produce(t, p, clk, 1, 1); res.LeaderEpoch != 4 || p.HighWatermark() != 3 {
		t.Fatalf("after SetLeaderEpoch: %+v, hw %d", res, p.HighWatermark())
	}
	if got, want := p.log.EpochEntries(), []log.EpochEntry{{Epoch: 2, StartOffset: 0}, {Epoch: 4, StartOffset: 2}}; !slices.Equal(got, want) {
		t.Fatalf("epoch entries %v, want %v", got, want)
	}
}

// TestHighWatermark: on a leader the high watermark is the smallest log
// end over the ISR (the leader's own included), waits for an eligible
// follower outside the ISR that is caught up within the lag, never goes
// back, and bounds what consumers read.
func TestHighWatermark(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	eligible := func(id int32) bool { return id != 4 }
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1, Eligible: eligible}, defaults(), clk)
	mustLead(t, p, 1, []int32{1, 2, 3}, []int32{1, 2, 3, 4, 5}, 0)
	produce(t, p, clk, 2, 1)
	produce(t, p, clk, 2, 1)
	produce(t, p, clk, 2, 1) // LEO 6
	wantHW(t, p, 0)          // followers unknown

	steps := []struct {
		id     int32
		offset int64
		moved  bool
		hw     int64
	}{
		{2, 6, false, 0}, // 3 still unknown
		{3, 4, true, 4},
		{5, 6, false, 4}, // outside the ISR, at the log end: no effect
		{3, 6, true, 6},
		{3, 2, false, 6}, // a follower going back does not move it back
	}
	for i, s := range steps {
		if moved := p.UpdateFollower(s.id, s.offset, clk.now()); moved != s.moved || p.HighWatermark() != s.hw {
			t.Fatalf("step %d: UpdateFollower(%d, %d) moved %v, hw %d; want %v, %d", i, s.id, s.offset, moved, p.HighWatermark(), s.moved, s.hw)
		}
	}
	if p.UpdateFollower(9, 6, clk.now()) {
		t.Fatal("an unknown replica moved the high watermark")
	}
	r, err := p.Read(0, 1<<20, true, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Slice.Release()
	if r.HighWatermark != 6 || r.Slice.Len != 3*int64(len(batch(t, record.CodecNone, clk.now().UnixMilli(), "v", "v"))) {
		t.Fatalf("read %+v", r)
	}

	// Followers 4 and 5, outside the ISR, fetched from the log end (6),
	// so they are caught up. 5 then holds the high watermark while it
	// chases the log end, so that it can reach it and join the ISR; 4
	// is not eligible (a fenced broker, say) and does not.
	p.UpdateFollower(4, 6, clk.now())
	produce(t, p, clk, 2, 1) // LEO 8
	p.UpdateFollower(2, 8, clk.now())
	if moved := p.UpdateFollower(3, 8, clk.now()); moved || p.HighWatermark() != 6 {
		t.Fatalf("held by caught-up follower 5: moved %v, hw %d; want 6", moved, p.HighWatermark())
	}
	if moved := p.UpdateFollower(5, 8, clk.now()); !moved || p.HighWatermark() != 8 {
		t.Fatalf("5 at the log end, 4 ineligible: moved %v, hw %d; want 8", moved, p.HighWatermark())
	}
	// Past the lag, 5 no longer holds it.
	clk.advance(11 * time.Second)
	produce(t, p, clk, 1, 1) // LEO 9
	p.UpdateFollower(2, 9, clk.now())
	if moved := p.UpdateFollower(3, 9, clk.now()); !moved || p.HighWatermark() != 9 {
		t.Fatalf("after the lag: moved %v, hw %d; want 9", moved, p.HighWatermark())
	}
	if st, ok := p.Follower(5); !ok || st.LogEndOffset != 8 || !st.LastCaughtUp.Equal(clk.now().Add(-11*time.Second)) {
		t.Fatalf("follower 5: %+v, %v", st, ok)
	}

	// A follower's fetch reads past the high watermark, to the log end.
	produce(t, p, clk, 2, 1) // LEO 11, hw 9
	r, err = p.ReadForFollower(9, 1<<20, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Slice.Release()
	if r.HighWatermark != 9 || r.Slice.Len != int64(len(batch(t, record.CodecNone, clk.now().UnixMilli(), "v", "v"))) {
		t.Fatalf("follower read: %+v", r)
	}
	if r, err := p.Read(9, 1<<20, true, false); err != nil || r.Slice.Len != 0 {
		t.Fatalf("consumer read at the high watermark: %+v, %v", r, err)
	}

	// A high watermark inside a batch bounds reads at that batch's start.
	p2 := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p2, 1, []int32{1, 2}, []int32{1, 2}, 0)
	produce(t, p2, clk, 3, 1)
	p2.UpdateFollower(2, 2, clk.now())
	r, err = p2.Read(0, 1<<20, true, false)
	if err != nil || r.HighWatermark != 2 || r.Slice.Len != 0 {
		t.Fatalf("read below a mid-batch high watermark: %+v, %v", r, err)
	}
}

// TestFollowerCaughtUp: Kafka's lastCaughtUpTimeMs: a fetch from the
// leader's log end catches up at its time; a fetch from where the log
// ended at the previous fetch catches up at the previous fetch's time.
func TestFollowerCaughtUp(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p, 1, []int32{1}, []int32{1, 2}, 0)
	produce(t, p, clk, 5, 1) // LEO 5
	t0 := clk.now()
	steps := []struct {
		fetch   int64
		produce int // records appended after the fetch
		want    time.Time
	}{
		{3, 2, time.Time{}},             // behind, first fetch: never caught up
		{5, 0, t0.Add(time.Second)},     // reached the log end as of the previous fetch
		{6, 1, t0.Add(time.Second)},     // behind the log end of the previous fetch (7)
		{8, 0, t0.Add(4 * time.Second)}, // at the log end
	}
	for i, s := range steps {
		clk.advance(time.Second)
		p.UpdateFollower(2, s.fetch, clk.now())
		if st, _ := p.Follower(2); !st.LastCaughtUp.Equal(s.want) || st.LogEndOffset != s.fetch {
			t.Fatalf("step %d: %+v, want caught up at %v", i, st, s.want)
		}
		if s.produce > 0 {
			produce(t, p, clk, s.produce, 1)
		}
	}
}

// TestMinInsyncReplicas: acks=all is refused before appending when the
// ISR is under min.insync.replicas, and the high watermark does not move
// while it is (Kafka 3.7+).
func TestMinInsyncReplicas(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	cfg := defaults()
	cfg.MinInsyncReplicas = 2
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, cfg, clk)
	mustLead(t, p, 1, []int32{1}, []int32{1, 2, 3}, 0)
	if _, err := p.AppendAcks(batch(t, record.CodecNone, clk.now().UnixMilli(), "x"), -1); !errors.Is(err, kerr.NotEnoughReplicas) {
		t.Fatalf("acks=all under min ISR: %v", err)
	}
	if p.LogEndOffset() != 0 {
		t.Fatalf("refused batch appended: LEO %d", p.LogEndOffset())
	}
	produce(t, p, clk, 2, 1)
	produce(t, p, clk, 2, 0)
	wantHW(t, p, 0) // under min ISR
	p.UpdateFollower(2, 4, clk.now())
	wantHW(t, p, 0)
	if !p.SetISR([]int32{1, 2}, 1) {
		t.Fatal("SetISR refused")
	}
	wantHW(t, p, 4)
	if p.SetISR([]int32{1}, 0) {
		t.Fatal("SetISR with an older partition epoch applied")
	}
	res := produce(t, p, clk, 1, -1)
	if res.BaseOffset != 4 {
		t.Fatalf("acks=all at min ISR: %+v", res)
	}
}

// TestWaitCommitted: an acks=all wait ends when the high watermark passes
// the batch in the same leadership, fails when leadership ends first or
// when the ISR shrank under min.insync.replicas, and gives up with ctx.
func TestWaitCommitted(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	cfg := defaults()
	cfg.MinInsyncReplicas = 2
	setup := func(t *testing.T) (*Partition, AppendResult) {
		p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, cfg, clk)
		mustLead(t, p, 3, []int32{1, 2}, []int32{1, 2}, 0)
		produce(t, p, clk, 2, -1)
		return p, produce(t, p, clk, 2, -1) // offsets 2-3
	}
	wait := func(p *Partition, ctx context.Context, res AppendResult) <-chan error {
		done := make(chan error, 1)
		go func() { done <- p.WaitCommitted(ctx, res.LeaderEpoch, res.LastOffset) }()
		return done
	}
	result := func(t *testing.T, done <-chan error) error {
		t.Helper()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second): // a hang, not a timing assertion
			t.Fatal("WaitCommitted did not return")
			return nil
		}
	}

	t.Run("committed", func(t *testing.T) {
		p, res := setup(t)
		done := wait(p, context.Background(), res)
		p.UpdateFollower(2, 3, clk.now()) // hw 3: offset 3 not committed yet
		if ok, _ := p.committed(res.LeaderEpoch, res.LastOffset); ok {
			t.Fatal("committed at hw 3")
		}
		p.UpdateFollower(2, 4, clk.now())
		if err := result(t, done); err != nil {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
	t.Run("leadership lost", func(t *testing.T) {
		p, res := setup(t)
		done := wait(p, context.Background(), res)
		p.MakeFollower(4, 2, 1)
		if err := result(t, done); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
	t.Run("new epoch, same leader", func(t *testing.T) {
		p, res := setup(t)
		done := wait(p, context.Background(), res)
		if _, err := p.MakeLeader(4, []int32{1, 2}, []int32{1, 2}, 1); err != nil {
			t.Fatal(err)
		}
		p.UpdateFollower(2, 4, clk.now())
		if err := result(t, done); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		p, res := setup(t)
		done := wait(p, context.Background(), res)
		p.Close()
		if err := result(t, done); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		p, res := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := wait(p, ctx, res)
		cancel()
		if err := result(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
	t.Run("ISR shrank after the append", func(t *testing.T) {
		p, res := setup(t)
		p.UpdateFollower(2, 4, clk.now()) // committed by the ISR {1, 2}
		p.SetISR([]int32{1}, 1)           // then shrunk under min.insync
		if err := p.WaitCommitted(context.Background(), res.LeaderEpoch, res.LastOffset); !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) {
			t.Fatalf("WaitCommitted: %v", err)
		}
	})
}

// TestISRChange: followers lagging past the lag leave the ISR, caught-up
// ones join it, one change at a time, and the controller's record is the
// truth.
func TestISRChange(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	const lag = 10 * time.Second
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	all := []int32{1, 2, 3}
	mustLead(t, p, 1, all, all, 0) // ISR members count as caught up now
	produce(t, p, clk, 5, 1)       // LEO 5

	clk.advance(5 * time.Second)
	if isr, ok := p.ISRChange(clk.now(), lag); ok {
		t.Fatalf("within the lag: proposed %v", isr)
	}
	clk.advance(time.Second)
	p.UpdateFollower(2, 5, clk.now()) // 2 caught up at 6 s
	clk.advance(5 * time.Second)      // 11 s: 3 last caught up at 0
	isr, ok := p.ISRChange(clk.now(), lag)
	if !ok || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("shrink: %v, %v", isr, ok)
	}
	if pending, ok := p.PendingISR(); !ok || !slices.Equal(pending, []int32{1, 2}) {
		t.Fatalf("pending %v, %v", pending, ok)
	}
	if isr, ok := p.ISRChange(clk.now(), lag); ok {
		t.Fatalf("second change while one is pending: %v", isr)
	}
	wantHW(t, p, 0) // a pending shrink does not free the high watermark
	p.AbortISRChange()
	if isr, ok := p.ISRChange(clk.now(), lag); !ok || !slices.Equal(isr, []int32{1, 2}) {
		t.Fatalf("shrink after an abort: %v, %v", isr, ok)
	}
	if !p.SetISR([]int32{1, 2}, 1) {
		t.Fatal("SetISR refused")
	}
	wantHW(t, p, 5)
	if _, ok := p.PendingISR(); ok {
		t.Fatal("pending change survived the record")
	}

	// 3 comes back: below the high watermark it cannot join; at it, it
	// can, and once proposed it holds the high watermark (maximal ISR).
	p.UpdateFollower(3, 3, clk.now())
	if isr, ok := p.ISRChange(clk.now(), lag); ok {
		t.Fatalf("expanded with a follower below the high watermark: %v", isr)
	}
	p.UpdateFollower(3, 5, clk.now())
	if isr, ok := p.ISRChange(clk.now(), lag); !ok || !slices.Equal(isr, all) {
		t.Fatalf("expand: %v, %v", isr, ok)
	}
	// Past the lag, 3 holds the high watermark only by being added.
	clk.advance(11 * time.Second)
	produce(t, p, clk, 2, 1) // LEO 7
	p.UpdateFollower(2, 7, clk.now())
	wantHW(t, p, 5)
	p.SetISR(all, 2)
	p.UpdateFollower(3, 7, clk.now())
	wantHW(t, p, 7)
	if isr, ok := p.ISRChange(clk.now(), lag); ok {
		t.Fatalf("nothing to change, proposed %v", isr)
	}
}

// TestISRExpansionNeedsLeaderEpoch: a follower joins the ISR only once it
// reaches the start of the leader's epoch (it then holds what the previous
// leader committed) and only when eligible.
func TestISRExpansionNeedsLeaderEpoch(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	dir := t.TempDir()
	seed := replica(t, dir, ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, seed, 1, []int32{1}, []int32{1}, 0)
	produce(t, seed, clk, 10, 1)
	seed.Close()

	eligible := atomic.Bool{}
	eligible.Store(true)
	p := replica(t, dir, ReplicaOptions{LocalID: 1, HighWatermark: 3, Eligible: func(id int32) bool { return id != 3 || eligible.Load() }}, defaults(), clk)
	wantHW(t, p, 3) // from the checkpoint
	mustLead(t, p, 2, []int32{1, 2}, []int32{1, 2, 3}, 1)
	wantHW(t, p, 3) // 2 has not fetched in this leadership
	p.UpdateFollower(3, 5, clk.now())
	if isr, ok := p.ISRChange(clk.now(), time.Minute); ok {
		t.Fatalf("expanded with a follower below the epoch start 10: %v", isr)
	}
	eligible.Store(false)
	p.UpdateFollower(3, 10, clk.now())
	if isr, ok := p.ISRChange(clk.now(), time.Minute); ok {
		t.Fatalf("expanded with an ineligible follower: %v", isr)
	}
	eligible.Store(true)
	if isr, ok := p.ISRChange(clk.now(), time.Minute); !ok || !slices.Equal(isr, []int32{1, 2, 3}) {
		t.Fatalf("expand: %v, %v", isr, ok)
	}
}

// TestISRBrokerEpochs (KIP-903): the leader records each follower's
// broker epoch from its fetches and names it in the ISR it proposes; a
// fetch from an older incarnation than the live one is refused and not
// recorded, and a follower whose last fetch came from another incarnation
// than the live one does not join the ISR until it fetches as the live
// one.
func TestISRBrokerEpochs(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	live := map[int32]int64{2: 20, 3: 30}
	var mu sync.Mutex
	epochOf := func(id int32) int64 {
		mu.Lock()
		defer mu.Unlock()
		if e, ok := live[id]; ok {
			return e
		}
		return -1
	}
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1, BrokerEpoch: epochOf}, defaults(), clk)
	mustLead(t, p, 1, []int32{1, 2}, []int32{1, 2, 3}, 0)
	produce(t, p, clk, 4, 1)

	if _, err := p.UpdateFollowerFetch(2, 19, 4, clk.now()); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("fetch from an old incarnation: %v", err)
	}
	if fs, _ := p.Follower(2); fs.BrokerEpoch != -1 || fs.LogEndOffset != -1 {
		t.Fatalf("old incarnation's fetch recorded: %+v", fs)
	}
	if _, err := p.UpdateFollowerFetch(2, 20, 4, clk.now()); err != nil {
		t.Fatal(err)
	}
	// 3 fetched as incarnation 29, then restarted as 30 (the metadata
	// says so) and has not fetched since: it stays out.
	mu.Lock()
	live[3] = 29
	mu.Unlock()
	if _, err := p.UpdateFollowerFetch(3, 29, 4, clk.now()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	live[3] = 30
	mu.Unlock()
	if u, ok := p.ProposeISR(clk.now(), time.Minute); ok {
		t.Fatalf("expanded with a follower of a stale incarnation: %+v", u)
	}
	if _, err := p.UpdateFollowerFetch(3, 30, 4, clk.now()); err != nil {
		t.Fatal(err)
	}
	u, ok := p.ProposeISR(clk.now(), time.Minute)
	if !ok || !slices.Equal(u.From, []int32{1, 2}) || !slices.Equal(u.ISR, []int32{1, 2, 3}) || !slices.Equal(u.Epochs, []int64{-1, 20, 30}) {
		t.Fatalf("expand: %+v %v; want [1 2] to [1 2 3] with [-1 20 30]", u, ok)
	}
	// A follower that sends no epoch (-1) is eligible, as in Kafka.
	p.AbortISRChange()
	if _, err := p.UpdateFollowerFetch(3, -1, 4, clk.now()); err != nil {
		t.Fatal(err)
	}
	if u, ok := p.ProposeISR(clk.now(), time.Minute); !ok || !slices.Equal(u.ISR, []int32{1, 2, 3}) || !slices.Equal(u.Epochs, []int64{-1, 20, -1}) {
		t.Fatalf("expand with no epoch: %+v %v", u, ok)
	}
}

// TestFollower: a follower appends what its leader wrote, in its epoch
// only, takes its high watermark from the leader (clamped to its log end,
// up or down), and truncates.
func TestFollower(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	leader := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, leader, 4, []int32{1}, []int32{1, 2}, 0)
	for range 3 {
		produce(t, leader, clk, 2, 1)
	}
	all := leaderBytes(t, leader)

	f := replica(t, t.TempDir(), ReplicaOptions{LocalID: 2, HighWatermark: -1}, defaults(), clk)
	if _, err := f.AppendReplicated(4, all); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append before any role: %v", err)
	}
	if !f.MakeFollower(4, 1, 0) {
		t.Fatal("MakeFollower")
	}
	leo := make(chan struct{}, 1)
	defer f.AddLEOWaiter(leo)()
	for _, tc := range []struct {
		epoch int32
		want  error
	}{{3, kerr.FencedLeaderEpoch}, {5, kerr.UnknownLeaderEpoch}} {
		if _, err := f.AppendReplicated(tc.epoch, all); !errors.Is(err, tc.want) {
			t.Fatalf("epoch %d: %v, want %v", tc.epoch, err, tc.want)
		}
	}
	res, err := f.AppendReplicated(4, append(bytes.Clone(all), all[:20]...))
	if err != nil || res.BaseOffset != 0 || res.LastOffset != 5 || res.LeaderEpoch != 4 || f.LogEndOffset() != 6 {
		t.Fatalf("AppendReplicated: %+v, %v, LEO %d", res, err, f.LogEndOffset())
	}
	select {
	case <-leo:
	default:
		t.Fatal("log-end waiter not woken")
	}
	if got, want := f.log.EpochEntries(), leader.log.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("epochs %v, leader's %v", got, want)
	}
	wantHW(t, f, 0)
	for _, tc := range []struct{ set, want int64 }{{4, 4}, {100, 6}, {2, 2}, {-5, 0}} {
		if err := f.SetFollowerHW(tc.set); err != nil || f.HighWatermark() != tc.want {
			t.Fatalf("SetFollowerHW(%d): hw %d, %v; want %d", tc.set, f.HighWatermark(), err, tc.want)
		}
	}
	if err := leader.SetFollowerHW(1); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("SetFollowerHW on a leader: %v", err)
	}
	if _, err := f.AppendReplicated(-1, all[:len(all)/3]); !errors.Is(err, log.ErrUnexpectedAppendOffset) {
		t.Fatalf("batches below the log end: %v", err)
	}

	f.SetFollowerHW(6)
	if err := f.TruncateTo(3); err != nil { // inside the batch 2-3
		t.Fatal(err)
	}
	if f.LogEndOffset() != 2 || f.HighWatermark() != 2 {
		t.Fatalf("after TruncateTo(3): LEO %d, hw %d", f.LogEndOffset(), f.HighWatermark())
	}
	if err := leader.TruncateTo(0); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("TruncateTo on a leader: %v", err)
	}
	if err := f.TruncateFullyAndStartAt(9); err != nil {
		t.Fatal(err)
	}
	if f.LogStartOffset() != 9 || f.LogEndOffset() != 9 || f.HighWatermark() != 9 {
		t.Fatalf("after TruncateFullyAndStartAt(9): start %d LEO %d hw %d", f.LogStartOffset(), f.LogEndOffset(), f.HighWatermark())
	}
}

// TestFollowerStartInsideBatch: an empty follower log whose start falls
// inside the leader's first batch (DeleteRecords moved the leader's log
// start there) restarts at the batch, as Kafka's follower does.
func TestFollowerStartInsideBatch(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	leader := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, leader, 1, []int32{1}, []int32{1, 2}, 0)
	produce(t, leader, clk, 4, 1)
	produce(t, leader, clk, 4, 1)
	all := leaderBytes(t, leader)

	f := replica(t, t.TempDir(), ReplicaOptions{LocalID: 2, HighWatermark: -1}, defaults(), clk)
	f.MakeFollower(1, 1, 0)
	if err := f.TruncateFullyAndStartAt(2); err != nil {
		t.Fatal(err)
	}
	res, err := f.AppendReplicated(1, all)
	if err != nil || res.BaseOffset != 0 || f.LogStartOffset() != 0 || f.LogEndOffset() != 8 || f.HighWatermark() != 0 {
		t.Fatalf("%+v, %v: start %d LEO %d hw %d", res, err, f.LogStartOffset(), f.LogEndOffset(), f.HighWatermark())
	}
}

// leaderBytes is every batch of p, as a fetch response carries them.
func leaderBytes(t *testing.T, p *Partition) []byte {
	t.Helper()
	r, err := p.log.Read(p.LogStartOffset(), 1<<30, p.log.EndPosition(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Slice.Release()
	b := make([]byte, r.Slice.Len)
	if _, err := r.Slice.File.ReadAt(b, r.Slice.Pos); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWaiters: log-end waiters wake on every append, high-watermark
// waiters only when it moves; both on a role change.
func TestWaiters(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p, 1, []int32{1, 2}, []int32{1, 2}, 0)
	hw, leo := make(chan struct{}, 1), make(chan struct{}, 1)
	defer p.AddWaiter(hw)()
	defer p.AddLEOWaiter(leo)()
	woken := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	produce(t, p, clk, 1, 1)
	if !woken(leo) || woken(hw) {
		t.Fatal("append: want the log-end waiter only")
	}
	p.UpdateFollower(2, 1, clk.now())
	if woken(leo) || !woken(hw) {
		t.Fatal("high watermark moved: want its waiter only")
	}
	p.MakeFollower(2, 2, 1)
	if !woken(leo) || !woken(hw) {
		t.Fatal("role change: want both")
	}
}

// TestReopenHighWatermark: a checkpointed high watermark is clamped to
// the log on open.
func TestReopenHighWatermark(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	dir := t.TempDir()
	p := replica(t, dir, ReplicaOptions{LocalID: 1, HighWatermark: -1}, defaults(), clk)
	mustLead(t, p, 1, []int32{1}, []int32{1}, 0)
	produce(t, p, clk, 6, 1)
	if err := p.log.SetStartOffset(2); err != nil {
		t.Fatal(err)
	}
	p.Close()
	for _, tc := range []struct{ ckpt, want int64 }{{4, 4}, {100, 6}, {-1, 2}, {1, 2}} {
		p := replica(t, dir, ReplicaOptions{LocalID: 1, HighWatermark: tc.ckpt}, defaults(), clk)
		if p.HighWatermark() != tc.want {
			t.Errorf("checkpoint %d: hw %d, want %d", tc.ckpt, p.HighWatermark(), tc.want)
		}
		p.Close()
	}
}

// TestReplicationRace runs producers with acks=all against a leader whose
// two followers fetch concurrently, then takes the leadership away: every
// wait ends, with success for what was committed before and
// NOT_LEADER_OR_FOLLOWER after. Run with -race.
func TestReplicationRace(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	cfg := defaults()
	cfg.MinInsyncReplicas = 2
	p := replica(t, t.TempDir(), ReplicaOptions{LocalID: 1, HighWatermark: -1}, cfg, clk)
	all := []int32{1, 2, 3}
	mustLead(t, p, 1, all, all, 0)

	stop := make(chan struct{})
	var fetchers sync.WaitGroup
	for _, id := range []int32{2, 3} {
		fetchers.Add(1)
		go func() {
			defer fetchers.Done()
			leo := make(chan struct{}, 1)
			defer p.AddLEOWaiter(leo)()
			for {
				p.UpdateFollower(id, p.LogEndOffset(), clk.now())
				select {
				case <-leo:
				case <-stop:
					return
				}
			}
		}()
	}
	const producers, each = 4, 25
	var ok, lost, maxAcked atomic.Int64
	acked := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				res, err := p.AppendAcks(batch(t, record.CodecNone, clk.now().UnixMilli(), "v"), -1)
				if err != nil {
					if !errors.Is(err, kerr.NotLeaderForPartition) {
						t.Errorf("append: %v", err)
					}
					lost.Add(1)
					continue
				}
				switch err := p.WaitCommitted(context.Background(), res.LeaderEpoch, res.LastOffset); {
				case err == nil:
					ok.Add(1)
					once.Do(func() { close(acked) })
					for cur := maxAcked.Load(); res.LastOffset > cur && !maxAcked.CompareAndSwap(cur, res.LastOffset); {
						cur = maxAcked.Load()
					}
				case errors.Is(err, kerr.NotLeaderForPartition):
					lost.Add(1)
				default:
					t.Errorf("wait: %v", err)
				}
			}
		}()
	}
	// Take the leadership away once a batch is acknowledged.
	<-acked
	p.MakeFollower(2, 2, 1)
	wg.Wait()
	close(stop)
	fetchers.Wait()
	// A batch committed but not yet acknowledged when the leadership
	// ended is answered NOT_LEADER_OR_FOLLOWER, as in Kafka (the producer
	// retries); an acknowledged one is always below the high watermark.
	if ok.Load()+lost.Load() != producers*each || ok.Load() == 0 {
		t.Fatalf("%d acknowledged, %d refused, of %d", ok.Load(), lost.Load(), producers*each)
	}
	if maxAcked.Load() >= p.HighWatermark() {
		t.Fatalf("offset %d acknowledged but the high watermark is %d", maxAcked.Load(), p.HighWatermark())
	}
}
