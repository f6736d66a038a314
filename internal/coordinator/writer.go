package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrStopped is the error of writes to a writer whose shard was unloaded
// (NOT_COORDINATOR to a client).
var ErrStopped = fmt.Errorf("coordinator: shard unloaded: %w", kerr.NotCoordinator)

// Writer appends one shard's records, fenced by its leader epoch, and
// completes them in log order once committed (see the package comment).
// Run drives the completions; Stop ends it.
//
// Locks: a caller may hold its own locks across Append (Append takes the
// writer's lock, then the partition's); completions run on Run's goroutine
// with no writer lock held, and take the caller's locks themselves.
type Writer struct {
	p     Partition
	epoch int32
	wake  chan struct{} // room for one: work queued, or stopped

	stopped atomic.Bool // Stop was called

	mu      sync.Mutex
	queue   []*Write // appended, not committed yet, in log order
	running bool     // Run is completing a write it took off the queue
	err     error    // set once stopped: Append refuses with it
}

// Write is one append in flight.
type Write struct {
	last   int64
	finish func(error)
	done   chan struct{}
	inline bool
	err    error
}

// Done is closed once the write has completed (its finish has run, or,
// for an inline write, once Append returned).
func (w *Write) Done() <-chan struct{} { return w.done }

// Err is the outcome once Done is closed: nil when committed;
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when committed by an ISR below
// min.insync.replicas (the batch is committed all the same, and applied);
// NOT_LEADER_OR_FOLLOWER or ErrStopped when the leadership ended first.
func (w *Write) Err() error { return w.err }

// Inline reports whether the write was committed by the append itself:
// its finish is not called, and the caller applies it at once, under the
// locks it holds.
func (w *Write) Inline() bool { return w.inline }

// LastOffset is the offset of the write's last record.
func (w *Write) LastOffset() int64 { return w.last }

// Applied reports whether err, a completed write's error, means the batch
// is committed (and so must be applied to the coordinator's state).
func Applied(err error) bool {
	return err == nil || errors.Is(err, kerr.NotEnoughReplicasAfterAppend)
}

// NewWriter returns a writer for a shard loaded in leader epoch epoch of p.
func NewWriter(p Partition, epoch int32) *Writer {
	return &Writer{p: p, epoch: epoch, wake: make(chan struct{}, 1)}
}

// Epoch is the leader epoch the writer appends in.
func (w *Writer) Epoch() int32 { return w.epoch }

// Append appends batch (acks=all) in the writer's epoch. An error means
// nothing was appended, and finish is never called. Otherwise the write
// completes exactly once: inline (committed by the append, nothing
// pending before it: Inline reports true, and finish is not called), or
// later, when finish runs on Run's goroutine with the outcome, after every
// earlier write of this writer.
func (w *Writer) Append(batch []byte, finish func(error)) (*Write, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil && w.stopped.Load() {
		w.err = ErrStopped
	}
	if w.err != nil {
		return nil, w.err
	}
	res, err := w.p.AppendAsLeader(w.epoch, batch, -1)
	if err != nil {
		return nil, err
	}
	wr := &Write{last: res.LastOffset, finish: finish, done: make(chan struct{})}
	if len(w.queue) == 0 && !w.running {
		if ok, cerr := w.p.Committed(w.epoch, res.LastOffset); ok && Applied(cerr) {
			wr.inline, wr.err = true, cerr
			close(wr.done)
			return wr, nil
		}
	}
	w.queue = append(w.queue, wr)
	w.signal()
	return wr, nil
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Stop refuses every later Append and makes Run fail the writes still
// pending with ErrStopped and return. It takes no lock and does not wait,
// so it may be called from a metadata image's delivery.
func (w *Writer) Stop() {
	w.stopped.Store(true)
	w.signal()
}

// Run completes the writes as the high watermark passes them, until Stop,
// ctx's end or the end of the leadership; the writes left then fail.
func (w *Writer) Run(ctx context.Context) {
	hw := make(chan struct{}, 1)
	defer w.p.AddWaiter(hw)()
	for w.completeCommitted() {
		select {
		case <-ctx.Done():
			w.fail(ErrStopped)
			return
		case <-hw:
		case <-w.wake:
		}
	}
}

// completeCommitted completes the committed writes at the head of the
// queue; false when the writer is done for (stopped, leadership lost), its
// pending writes failed.
func (w *Writer) completeCommitted() bool {
	for {
		w.mu.Lock()
		if w.err == nil && w.stopped.Load() {
			w.err = ErrStopped
		}
		if w.err != nil {
			err := w.err
			w.mu.Unlock()
			w.fail(err)
			return false
		}
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return true
		}
		head := w.queue[0]
		ok, err := w.p.Committed(w.epoch, head.last)
		switch {
		case !ok:
			w.mu.Unlock()
			return true
		case !Applied(err):
			// The leadership ended: nothing later commits in this epoch.
			w.err = err
			w.mu.Unlock()
			w.fail(err)
			return false
		}
		w.queue = w.queue[1:]
		w.running = true
		w.mu.Unlock()
		head.complete(err)
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}
}

// fail takes every queued write off the queue and completes it with err.
func (w *Writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	q := w.queue
	w.queue = nil
	w.running = len(q) > 0
	w.mu.Unlock()
	for _, wr := range q {
		wr.complete(err)
	}
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
}

func (wr *Write) complete(err error) {
	wr.err = err
	if wr.finish != nil {
		wr.finish(err)
	}
	close(wr.done)
}

// Wait waits for wr to complete, or ctx to end first: then the error is
// REQUEST_TIMED_OUT, and the write still completes (and is applied once
// committed) later.
func Wait(ctx context.Context, wr *Write) error {
	select {
	case <-wr.Done():
		return wr.Err()
	case <-ctx.Done():
		return fmt.Errorf("coordinator: write up to offset %d not committed: %w: %w", wr.last, ctx.Err(), kerr.RequestTimedOut)
	}
}
