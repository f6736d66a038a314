package metadata

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
)

// Publisher is a node's view of the committed metadata: the newest image it
// has received (from its own controller's state machine, or fetched from
// the active controller), and the subscribers that act on each change.
//
// Publish never runs a subscriber: one delivery goroutine does, outside
// every lock of whoever publishes (the Raft state machine, the metadata
// fetcher), so a slow subscriber (a replica manager opening logs) delays
// nothing but later deliveries. Subscribers receive (prev, next) pairs in
// order; consecutive images may be coalesced into one pair, so a
// subscriber must act on the difference, never count calls.
type Publisher struct {
	cur    atomic.Pointer[Image]
	notify chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup

	deliverMu sync.Mutex // held while subscribers run
	subs      []func(prev, next *Image)
	// delivered is the image subscribers last saw (nil before the first);
	// written under deliverMu, read without it so request handlers never
	// wait for a delivery in progress.
	delivered atomic.Pointer[Image]
	initial   *Image
	// releaseAt: nothing is delivered before an image at this offset is
	// published (a node catching up at start must not act on a prefix of
	// the log, where later topics do not exist yet).
	releaseAt atomic.Int64

	waitMu  sync.Mutex
	changed chan struct{} // closed and replaced on every delivery
}

// NewPublisher starts a publisher holding initial.
func NewPublisher(initial *Image) *Publisher {
	p := &Publisher{notify: make(chan struct{}, 1), done: make(chan struct{}), initial: initial, changed: make(chan struct{})}
	p.releaseAt.Store(math.MaxInt64)
	p.cur.Store(initial)
	p.wg.Add(1)
	go p.run()
	return p
}

// Image is the newest published image.
func (p *Publisher) Image() *Image { return p.cur.Load() }

// Delivered is the newest image every subscriber has acted on (the
// initial image before the first delivery).
func (p *Publisher) Delivered() *Image {
	if d := p.delivered.Load(); d != nil {
		return d
	}
	return p.initial
}

// ReleaseAt lets deliveries begin once an image at offset or later is
// published: the node has caught up with the log (its own registration,
// committed after everything before it, is in the image).
func (p *Publisher) ReleaseAt(offset int64) {
	p.releaseAt.Store(offset)
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Publish makes img the current image; subscribers see it shortly after.
// Images must be published in offset order.
func (p *Publisher) Publish(img *Image) {
	p.cur.Store(img)
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Subscribe registers fn. Its first call has an empty prev, so it builds
// its state from scratch: before Subscribe returns when something was
// delivered already, else with the first delivery. fn must not call
// Subscribe.
func (p *Publisher) Subscribe(fn func(prev, next *Image)) {
	p.deliverMu.Lock()
	defer p.deliverMu.Unlock()
	p.subs = append(p.subs, fn)
	if d := p.delivered.Load(); d != nil {
		fn(Empty(d.ClusterID, d.ControllerID), d)
	}
}

// WaitFor blocks until subscribers have acted on an image at offset or
// later, or ctx ends.
func (p *Publisher) WaitFor(ctx context.Context, offset int64) error {
	for {
		p.waitMu.Lock()
		ch := p.changed
		p.waitMu.Unlock()
		if p.Delivered().Offset >= offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return context.Canceled
		}
	}
}

// Close stops delivery; images published after it are not delivered.
func (p *Publisher) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.wg.Wait()
}

func (p *Publisher) run() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.notify:
		}
		next := p.cur.Load()
		if next.Offset < p.releaseAt.Load() {
			continue
		}
		p.deliverMu.Lock()
		prev := p.delivered.Load()
		if next != prev {
			if prev == nil {
				prev = Empty(next.ClusterID, next.ControllerID)
			}
			for _, fn := range p.subs {
				fn(prev, next)
			}
			p.delivered.Store(next)
		}
		p.deliverMu.Unlock()
		p.waitMu.Lock()
		close(p.changed)
		p.changed = make(chan struct{})
		p.waitMu.Unlock()
	}
}
