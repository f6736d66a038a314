package coordinator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Shard is the runtime's part of one partition a coordinator leads in one
// leader epoch: where its records go, and the writer that appends them.
type Shard struct {
	Index   int32
	Epoch   int32
	TopicID metadata.UUID
	Log     Partition
	Writer  *Writer

	cancel context.CancelFunc // stops its loader and its writer
}

// Hooks are what a coordinator plugs into its Runtime; S is its state of
// one shard (the group coordinator's: the shard's groups).
type Hooks[S any] struct {
	// New returns the state of a shard about to load. It runs under the
	// runtime's lock, from a metadata image's delivery: it must be cheap.
	New func(sh *Shard) S
	// Load loads the shard's state (typically Load with a replay into
	// the state) and starts serving it. It runs on the shard's own
	// goroutine and is retried after RetryBackoff while it fails, until
	// the shard is unloaded; an error wrapping NOT_LEADER_OR_FOLLOWER or
	// FENCED_LEADER_EPOCH means the shard is obsolete and ends the
	// retries (a newer image unloads it).
	Load func(ctx context.Context, sh *Shard, state S) error
	// Unload gives the shard's state up: it no longer serves, and its
	// parked requests are answered NOT_COORDINATOR. It runs after the
	// shard's writer was stopped, possibly from a metadata image's
	// delivery: it must not block.
	Unload func(sh *Shard, state S)
}

// RuntimeConfig configures a Runtime.
type RuntimeConfig[S any] struct {
	Topic  string // the coordinator's internal topic
	NodeID int32  // this broker
	// Replica returns the local replica of partition index of Topic, or
	// nil when it could not be opened (the shard is then not served).
	Replica func(index int32) Partition
	Hooks   Hooks[S]
	Logger  *slog.Logger
	// RetryBackoff is the pause before a failed load is retried (5 s
	// when zero).
	RetryBackoff time.Duration
}

// Runtime keeps a coordinator's shards in line with the partitions of its
// topic that this broker leads (see the package comment), and owns their
// goroutines: one per shard, which loads it and then runs its writer.
type Runtime[S any] struct {
	cfg    RuntimeConfig[S]
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.RWMutex
	closed     bool
	partitions int32 // of the topic; 0 while it does not exist
	shards     map[int32]*slot[S]
}

type slot[S any] struct {
	sh    *Shard
	state S
}

// NewRuntime returns a runtime with no shards; OnImage brings them.
func NewRuntime[S any](cfg RuntimeConfig[S]) *Runtime[S] {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 5 * time.Second
	}
	r := &Runtime[S]{cfg: cfg, shards: map[int32]*slot[S]{}}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// OnImage brings the shards in line with next: a partition newly led gets
// a shard, loading on its own goroutine; a partition no longer led, or led
// in another leader epoch, or of a topic deleted and created again, is
// unloaded (and loaded again in its new epoch). It only starts and cancels
// work, never waits for it, so it may run under the metadata delivery.
func (r *Runtime[S]) OnImage(next *metadata.Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.partitions = 0
	if t := next.Topics[r.cfg.Topic]; t != nil {
		r.partitions = int32(len(t.Partitions))
	}
	led := Elections(next, r.cfg.Topic, r.cfg.NodeID)
	for idx, s := range r.shards {
		if e, ok := led[idx]; !ok || e.Epoch != s.sh.Epoch || e.TopicID != s.sh.TopicID {
			delete(r.shards, idx)
			r.unload(s)
		}
	}
	for idx, e := range led {
		if r.shards[idx] != nil {
			continue
		}
		p := r.cfg.Replica(idx)
		if p == nil {
			r.cfg.Logger.Error("no local replica of a led partition", "topic", r.cfg.Topic, "partition", idx)
			continue
		}
		ctx, cancel := context.WithCancel(r.ctx)
		sh := &Shard{Index: idx, Epoch: e.Epoch, TopicID: e.TopicID, Log: p, Writer: NewWriter(p, e.Epoch), cancel: cancel}
		s := &slot[S]{sh: sh, state: r.cfg.Hooks.New(sh)}
		r.shards[idx] = s
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			if r.load(ctx, s) {
				sh.Writer.Run(ctx)
			}
		}()
	}
}

// load runs the Load hook until it succeeds, the shard is unloaded, or it
// turns out obsolete; it reports whether the shard loaded.
func (r *Runtime[S]) load(ctx context.Context, s *slot[S]) bool {
	for {
		err := r.cfg.Hooks.Load(ctx, s.sh, s.state)
		switch {
		case err == nil:
			return true
		case ctx.Err() != nil:
			return false
		case errors.Is(err, kerr.NotLeaderForPartition), errors.Is(err, kerr.FencedLeaderEpoch):
			r.cfg.Logger.Info("leadership ended while loading", "topic", r.cfg.Topic, "partition", s.sh.Index, "leader_epoch", s.sh.Epoch, "err", err)
			return false
		}
		r.cfg.Logger.Error("cannot load partition; retrying", "topic", r.cfg.Topic, "partition", s.sh.Index, "err", err, "retry_in", r.cfg.RetryBackoff)
		t := time.NewTimer(r.cfg.RetryBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

func (r *Runtime[S]) unload(s *slot[S]) {
	s.sh.cancel()
	s.sh.Writer.Stop()
	r.cfg.Hooks.Unload(s.sh, s.state)
}

// Partitions is the number of partitions of the topic, 0 while it does
// not exist.
func (r *Runtime[S]) Partitions() int32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.partitions
}

// Lookup returns the state of the shard of the partition pick chooses
// (given the topic's partition count) for a key: NOT_COORDINATOR when the
// topic does not exist or this broker does not lead that partition,
// COORDINATOR_NOT_AVAILABLE once closed.
func (r *Runtime[S]) Lookup(pick func(partitions int32) int32) (S, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var zero S
	if r.closed {
		return zero, kerr.CoordinatorNotAvailable
	}
	if r.partitions == 0 {
		return zero, kerr.NotCoordinator
	}
	s := r.shards[pick(r.partitions)]
	if s == nil {
		return zero, kerr.NotCoordinator
	}
	return s.state, nil
}

// Serves reports whether this broker has a shard (loaded or loading) for
// partition index.
func (r *Runtime[S]) Serves(index int32) bool {
	_, err := r.Lookup(func(int32) int32 { return index })
	return err == nil
}

// States returns the state of every shard, loaded or not.
func (r *Runtime[S]) States() []S {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]S, 0, len(r.shards))
	for _, s := range r.shards {
		out = append(out, s.state)
	}
	return out
}

// Closed reports whether Close was called.
func (r *Runtime[S]) Closed() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.closed
}

// Install adds a shard that is already loaded, outside the metadata flow,
// as partition index of a topic of partitions partitions: for tests that
// drive a coordinator's state machine without a controller. Its writer is
// not run, so its log must commit every append as it is made.
func (r *Runtime[S]) Install(sh *Shard, state S, partitions int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sh.cancel == nil {
		sh.cancel = func() {}
	}
	r.partitions = partitions
	r.shards[sh.Index] = &slot[S]{sh: sh, state: state}
}

// Close unloads every shard and waits for their goroutines.
func (r *Runtime[S]) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	shards := r.shards
	r.shards = map[int32]*slot[S]{}
	r.mu.Unlock()
	r.cancel()
	for _, s := range shards {
		r.unload(s)
	}
	r.wg.Wait()
}
