package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/partition"
)

// fakePartition is a leader whose high watermark the test moves.
type fakePartition struct {
	mu      sync.Mutex
	epoch   int32
	leader  bool
	end     int64
	hw      int64
	minISR  bool // the ISR is below min.insync.replicas when the HW passes
	waiters map[chan<- struct{}]struct{}
	appends []int32 // the epoch of each append asked for
}

func newFake(epoch int32) *fakePartition {
	return &fakePartition{epoch: epoch, leader: true, waiters: map[chan<- struct{}]struct{}{}}
}

func (f *fakePartition) AppendAsLeader(epoch int32, _ []byte, acks int16) (partition.AppendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appends = append(f.appends, epoch)
	if acks != -1 {
		return partition.AppendResult{}, fmt.Errorf("acks %d: %w", acks, kerr.InvalidRequest)
	}
	if !f.leader || epoch != f.epoch {
		return partition.AppendResult{}, fmt.Errorf("fake: leads in %d: %w", f.epoch, kerr.NotLeaderForPartition)
	}
	res := partition.AppendResult{BaseOffset: f.end, LastOffset: f.end}
	f.end++
	return res, nil
}

func (f *fakePartition) Committed(epoch int32, offset int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.leader || epoch != f.epoch:
		return true, kerr.NotLeaderForPartition
	case f.hw <= offset:
		return false, nil
	case f.minISR:
		return true, kerr.NotEnoughReplicasAfterAppend
	}
	return true, nil
}

func (f *fakePartition) CheckLeader(epoch int32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case epoch < f.epoch:
		return kerr.FencedLeaderEpoch
	case epoch > f.epoch:
		return kerr.UnknownLeaderEpoch
	case !f.leader:
		return kerr.NotLeaderForPartition
	}
	return nil
}

func (f *fakePartition) AddWaiter(ch chan<- struct{}) func() {
	f.mu.Lock()
	f.waiters[ch] = struct{}{}
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		delete(f.waiters, ch)
		f.mu.Unlock()
	}
}

func (f *fakePartition) ReadForFollower(int64, int64, bool) (partition.ReadResult, error) {
	return partition.ReadResult{}, errors.New("fake: not readable")
}
func (f *fakePartition) LogStartOffset() int64 { return 0 }
func (f *fakePartition) LogEndOffset() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.end
}

// change applies fn under the lock and wakes the waiters, as a partition
// does when its high watermark or role moves.
func (f *fakePartition) change(fn func()) {
	f.mu.Lock()
	fn()
	for ch := range f.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	f.mu.Unlock()
}

// run starts w's completions; the returned func stops them and waits.
func run(w *Writer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func waitDone(t *testing.T, wr *Write) error {
	t.Helper()
	select {
	case <-wr.Done():
		return wr.Err()
	case <-time.After(10 * time.Second):
		t.Fatal("write not completed within 10s")
		return nil
	}
}

func notDone(t *testing.T, wr *Write) {
	t.Helper()
	select {
	case <-wr.Done():
		t.Fatalf("write up to %d completed early: %v", wr.LastOffset(), wr.Err())
	default:
	}
}

// TestWriterInline: with the high watermark at the log end after every
// append (a single replica), a write completes inline and its finish is
// never called: the caller applies it under its own locks.
func TestWriterInline(t *testing.T) {
	t.Parallel()
	f := newFake(4)
	w := NewWriter(f, 4)
	for i := range 3 {
		f.change(func() { f.hw = f.end + 1 })
		wr, err := w.Append([]byte("x"), func(error) { t.Error("finish called for an inline write") })
		if err != nil {
			t.Fatal(err)
		}
		if !wr.Inline() || wr.Err() != nil || wr.LastOffset() != int64(i) {
			t.Fatalf("write %d: inline %v, err %v, last %d", i, wr.Inline(), wr.Err(), wr.LastOffset())
		}
		<-wr.Done()
	}
}

// TestWriterCompletesInLogOrder: writes complete only once the high
// watermark passes them, in log order, each finish after the one before;
// a write appended while earlier ones are pending is never inline, even
// when the high watermark already covers it.
func TestWriterCompletesInLogOrder(t *testing.T) {
	t.Parallel()
	f := newFake(1)
	w := NewWriter(f, 1)
	stop := run(w)
	defer stop()
	var mu sync.Mutex
	var order []int64
	var writes []*Write
	for i := range 4 {
		wr, err := w.Append([]byte("x"), func(err error) {
			mu.Lock()
			order = append(order, int64(i))
			mu.Unlock()
			if err != nil {
				t.Errorf("write %d: %v", i, err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if wr.Inline() {
			t.Fatalf("write %d inline with the high watermark at %d", i, f.hw)
		}
		writes = append(writes, wr)
	}
	f.change(func() { f.hw = 2 }) // covers offsets 0 and 1
	for _, wr := range writes[:2] {
		if err := waitDone(t, wr); err != nil {
			t.Fatal(err)
		}
	}
	notDone(t, writes[2])
	f.change(func() { f.hw = 4 })
	for _, wr := range writes[2:] {
		if err := waitDone(t, wr); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != "[0 1 2 3]" {
		t.Fatalf("completed in order %v", order)
	}
}

// TestWriterLeadershipLost: writes pending when the leadership ends fail
// with NOT_LEADER_OR_FOLLOWER (NOT_COORDINATOR to a client), never
// succeed, and the writer refuses later appends.
func TestWriterLeadershipLost(t *testing.T) {
	t.Parallel()
	f := newFake(2)
	w := NewWriter(f, 2)
	stop := run(w)
	defer stop()
	finished := make(chan error, 1)
	wr, err := w.Append([]byte("x"), func(err error) { finished <- err })
	if err != nil {
		t.Fatal(err)
	}
	f.change(func() { f.epoch, f.leader = 3, false })
	err = waitDone(t, wr)
	if !errors.Is(err, kerr.NotLeaderForPartition) || Applied(err) {
		t.Fatalf("pending write: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if got := <-finished; got != err {
		t.Fatalf("finish got %v, Err %v", got, err)
	}
	if code := ErrorCode(err, kerr.UnknownServerError); code != kerr.NotCoordinator.Code {
		t.Fatalf("code %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if _, err := w.Append([]byte("x"), nil); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append after the leadership ended: %v", err)
	}
}

// TestWriterFencedByEpoch: a writer of an older epoch cannot append to a
// replica that leads again in a newer one: the partition refuses it.
func TestWriterFencedByEpoch(t *testing.T) {
	t.Parallel()
	f := newFake(5)
	w := NewWriter(f, 4)
	if _, err := w.Append([]byte("x"), nil); !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append in epoch 4 to a leader of epoch 5: %v", err)
	}
	if f.end != 0 || fmt.Sprint(f.appends) != "[4]" {
		t.Fatalf("log end %d, appends asked in epochs %v", f.end, f.appends)
	}
}

// TestWriterStop: Stop fails pending writes with NOT_COORDINATOR and
// refuses later ones.
func TestWriterStop(t *testing.T) {
	t.Parallel()
	f := newFake(0)
	w := NewWriter(f, 0)
	stop := run(w)
	defer stop()
	wr, err := w.Append([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	if err := waitDone(t, wr); !errors.Is(err, ErrStopped) || ErrorCode(err, kerr.UnknownServerError) != kerr.NotCoordinator.Code {
		t.Fatalf("pending write after Stop: %v", err)
	}
	if _, err := w.Append([]byte("x"), nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("append after Stop: %v", err)
	}
}

// TestWriterBelowMinISR: a batch the high watermark passed while the ISR
// was below min.insync.replicas is committed (Applied) but answered with
// an error, as Kafka's coordinator answers NOT_ENOUGH_REPLICAS_AFTER_APPEND.
func TestWriterBelowMinISR(t *testing.T) {
	t.Parallel()
	f := newFake(0)
	w := NewWriter(f, 0)
	stop := run(w)
	defer stop()
	wr, err := w.Append([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.change(func() { f.hw, f.minISR = 1, true })
	err = waitDone(t, wr)
	if !errors.Is(err, kerr.NotEnoughReplicasAfterAppend) || !Applied(err) {
		t.Fatalf("got %v, want a committed NOT_ENOUGH_REPLICAS_AFTER_APPEND", err)
	}
	if code := ErrorCode(err, kerr.UnknownServerError); code != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("code %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(code))
	}
}

// TestWaitTimeout: a wait that ends first is REQUEST_TIMED_OUT
// (COORDINATOR_NOT_AVAILABLE to a client); the write still completes
// once committed.
func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	f := newFake(0)
	w := NewWriter(f, 0)
	stop := run(w)
	defer stop()
	wr, err := w.Append([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Wait(ctx, wr)
	if !errors.Is(err, kerr.RequestTimedOut) || ErrorCode(err, kerr.UnknownServerError) != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("wait: %v", err)
	}
	f.change(func() { f.hw = 1 })
	if err := waitDone(t, wr); err != nil {
		t.Fatalf("write after the wait ended: %v", err)
	}
}

// TestErrorCode is Kafka's translation of coordinator write errors.
func TestErrorCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want *kerr.Error
	}{
		{kerr.NotEnoughReplicas, kerr.CoordinatorNotAvailable},
		{kerr.NotEnoughReplicasAfterAppend, kerr.CoordinatorNotAvailable},
		{kerr.RequestTimedOut, kerr.CoordinatorNotAvailable},
		{kerr.UnknownTopicOrPartition, kerr.CoordinatorNotAvailable},
		{kerr.NotLeaderForPartition, kerr.NotCoordinator},
		{kerr.FencedLeaderEpoch, kerr.NotCoordinator},
		{kerr.KafkaStorageError, kerr.NotCoordinator},
		{errors.New("disk on fire"), kerr.NotCoordinator},
		{fmt.Errorf("wrapped: %w", kerr.MessageTooLarge), kerr.InvalidCommitOffsetSize},
		{kerr.RecordListTooLarge, kerr.InvalidCommitOffsetSize},
		{kerr.InvalidProducerEpoch, kerr.InvalidProducerEpoch},
	} {
		if got := ErrorCode(tc.err, kerr.InvalidCommitOffsetSize); got != tc.want.Code {
			t.Errorf("%v: %v, want %v", tc.err, kerr.ErrorForCode(got), tc.want)
		}
	}
}

// TestLoadWaitsForLeadershipAndHW: Load waits until the replica leads in
// the shard's epoch, and then until the high watermark covers the log end
// it read to; a replica already past the epoch fails it.
func TestLoadWaitsForLeadershipAndHW(t *testing.T) {
	t.Parallel()
	f := newFake(6)
	f.leader = false
	f.end = 0
	done := make(chan error, 1)
	go func() { done <- Load(context.Background(), f, 7, nil) }()
	select {
	case err := <-done:
		t.Fatalf("loaded before leading: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// Empty log: loaded as soon as it leads in epoch 7.
	f.change(func() { f.epoch, f.leader = 7, true })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not loaded within 10s")
	}
	if err := Load(context.Background(), f, 6, nil); !errors.Is(err, kerr.FencedLeaderEpoch) {
		t.Fatalf("load of an older epoch: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := Load(ctx, f, 8, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("load of a future epoch: %v", err)
	}
}
