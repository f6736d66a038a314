package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxPrintedErrors bounds the per-record error lines: when a topic is
// missing every record fails the same way, and a million identical lines
// help nobody. The total is always reported.
const maxPrintedErrors = 10

// deliveries tracks what became of the records a producing command sent,
// for the "N of M records delivered" summary `produce` and `perf produce`
// end with, and tells the sender to stop once the cluster stops
// acknowledging: a record that timed out means the next ones would too,
// and sending them would only make the command outlive its --timeout by
// one timeout per buffer-full of records.
type deliveries struct {
	delivered atomic.Int64
	failed    atomic.Int64 // refused by the cluster
	unacked   atomic.Int64 // not acknowledged in time, or given up on
	w         io.Writer
	describe  func(*kgo.Record) string // names a failed record in its error line
	printed   atomic.Int64             // error lines, up to maxPrintedErrors
	stalled   chan struct{}            // closed once the cluster stopped acknowledging
	stallOnce sync.Once
	// progress is when a record last completed (or the buffer went from
	// empty to busy), in unix nanoseconds.
	progress             atomic.Int64
	stopWatch, watchDone chan struct{}
}

// newDeliveries starts watching cl's buffered records: once records wait
// and none has completed for timeout, the cluster counts as gone and
// abandon is called. kgo's own record timeout is not enough: with every
// broker unreachable it keeps retrying connections and fails the records
// much later, if at all.
func newDeliveries(w io.Writer, describe func(*kgo.Record) string, cl *kgo.Client, timeout time.Duration, abandon func()) *deliveries {
	d := &deliveries{w: w, describe: describe, stalled: make(chan struct{}),
		stopWatch: make(chan struct{}), watchDone: make(chan struct{})}
	d.progress.Store(time.Now().UnixNano())
	go func() {
		defer close(d.watchDone)
		t := time.NewTicker(max(timeout/20, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-d.stopWatch:
				return
			case now := <-t.C:
				if cl.BufferedProduceRecords() > 0 && now.Sub(time.Unix(0, d.progress.Load())) > timeout {
					d.stall()
					abandon()
					return
				}
			}
		}
	}()
	return d
}

func (d *deliveries) stall() { d.stallOnce.Do(func() { close(d.stalled) }) }

// produce hands r to cl with the deliveries' promise, or with its own
// promise, which must call d.promise.
func (d *deliveries) produce(ctx context.Context, cl *kgo.Client, r *kgo.Record, promise func(*kgo.Record, error)) {
	if cl.BufferedProduceRecords() == 0 {
		// Idle until now: the wait for an acknowledgement starts here.
		d.progress.Store(time.Now().UnixNano())
	}
	if promise == nil {
		promise = d.promise
	}
	cl.Produce(ctx, r, promise)
}

// promise is the kgo promise of every record; kgo calls promises serially.
func (d *deliveries) promise(r *kgo.Record, err error) {
	d.progress.Store(time.Now().UnixNano())
	if err == nil {
		d.delivered.Add(1)
		return
	}
	// Records failed because the command gave up on them (stall, close)
	// are counted, not printed: the first timeout already said why.
	giveUp := errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed)
	timedOut := errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, context.DeadlineExceeded)
	if timedOut {
		d.stall()
	}
	if giveUp || timedOut {
		d.unacked.Add(1)
	} else {
		d.failed.Add(1)
	}
	if n := d.printed.Add(1); n <= maxPrintedErrors && !giveUp {
		fmt.Fprintf(d.w, "samsa: %s: %v\n", d.describe(r), err)
		if n == maxPrintedErrors {
			fmt.Fprintln(d.w, "samsa: further record errors are counted, not printed")
		}
	}
}

func (d *deliveries) isStalled() bool {
	select {
	case <-d.stalled:
		return true
	default:
		return false
	}
}

// finish waits up to timeout for the records still buffered (none more
// once the cluster stalled), then abandons the rest and closes cl, so
// that every promise has run and the counts are final.
func (d *deliveries) finish(cl *kgo.Client, abandon context.CancelFunc, timeout time.Duration) {
	if !d.isStalled() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		go func() {
			// The watch ends the flush early if the cluster stalls.
			select {
			case <-d.stalled:
			case <-ctx.Done():
			}
			cancel()
		}()
		_ = cl.Flush(ctx)
		cancel()
	}
	close(d.stopWatch)
	<-d.watchDone
	abandon()
	closeClient(cl, timeout)
}

// summary is nil when all sent records were delivered, else the error
// that says how many were.
func (d *deliveries) summary(sent int64, timeout time.Duration) error {
	n := d.delivered.Load()
	if n >= sent {
		return nil
	}
	msg := fmt.Sprintf("%d of %d records delivered", n, sent)
	if f := d.failed.Load(); f > 0 {
		msg += fmt.Sprintf("; %d failed", f)
	}
	// Records never sent (the run stopped early) are undelivered too.
	if u := sent - n - d.failed.Load(); u > 0 {
		msg += fmt.Sprintf("; %d not acknowledged within --timeout %v", u, timeout)
	}
	return errors.New(msg)
}
