package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// testState is a shard's state as the runtime hooks see it.
type testState struct {
	sh       *Shard
	loaded   chan struct{}
	unloaded chan struct{}
}

// image is a topic "__t" of len(leaders) partitions: partition i led by
// leaders[i] in epochs[i].
func image(id metadata.UUID, leaders, epochs []int32) *metadata.Image {
	img := metadata.Empty("rt", 1)
	t := &metadata.Topic{Name: "__t", ID: id}
	for i := range leaders {
		t.Partitions = append(t.Partitions, metadata.Partition{Index: int32(i), Leader: leaders[i], LeaderEpoch: epochs[i]})
	}
	img.Topics = map[string]*metadata.Topic{"__t": t}
	return img
}

// TestRuntimeShards: the runtime loads a shard for each partition this
// node leads, unloads one it stops leading, reloads one whose leader epoch
// changed, ignores partitions led elsewhere, and unloads everything at
// Close, with every shard goroutine returned.
func TestRuntimeShards(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	parts := map[string]*fakePartition{}
	part := func(idx, epoch int32) *fakePartition {
		mu.Lock()
		defer mu.Unlock()
		k := fmt.Sprint(idx)
		if parts[k] == nil {
			parts[k] = newFake(epoch)
		}
		return parts[k]
	}
	var states []*testState
	r := NewRuntime(RuntimeConfig[*testState]{
		Topic:   "__t",
		NodeID:  1,
		Replica: func(idx int32) Partition { return part(idx, 0) },
		Hooks: Hooks[*testState]{
			New: func(sh *Shard) *testState {
				s := &testState{sh: sh, loaded: make(chan struct{}), unloaded: make(chan struct{})}
				mu.Lock()
				states = append(states, s)
				mu.Unlock()
				return s
			},
			Load: func(ctx context.Context, sh *Shard, s *testState) error {
				if err := Load(ctx, sh.Log, sh.Epoch, nil); err != nil {
					return err
				}
				close(s.loaded)
				return nil
			},
			Unload: func(_ *Shard, s *testState) { close(s.unloaded) },
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	id := metadata.NewUUID()
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: not within 10s", what)
		}
	}
	lookup := func(idx int32) (*testState, error) { return r.Lookup(func(int32) int32 { return idx }) }

	if _, err := lookup(0); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("lookup before the topic exists: %v", err)
	}
	r.OnImage(image(id, []int32{1, 2, 1}, []int32{0, 0, 0}))
	if r.Partitions() != 3 || len(states) != 2 {
		t.Fatalf("%d partitions, %d shards; want 3, 2", r.Partitions(), len(states))
	}
	s0, err := lookup(0)
	if err != nil || s0.sh.Index != 0 || s0.sh.Epoch != 0 {
		t.Fatalf("shard 0: %+v, %v", s0, err)
	}
	wait(s0.loaded, "shard 0 loaded")
	if _, err := lookup(1); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("partition led elsewhere: %v", err)
	}
	s2, _ := lookup(2)

	// Partition 0 re-elected in epoch 1: its replica leads in epoch 1
	// first, then the image comes; the old shard goes, a new one loads.
	p0 := part(0, 0)
	p0.change(func() { p0.epoch = 1 })
	r.OnImage(image(id, []int32{1, 2, 3}, []int32{1, 0, 1}))
	wait(s0.unloaded, "shard 0 of epoch 0 unloaded")
	wait(s2.unloaded, "shard 2 unloaded when led elsewhere")
	n0, err := lookup(0)
	if err != nil || n0 == s0 || n0.sh.Epoch != 1 {
		t.Fatalf("shard 0 after the new epoch: %+v, %v", n0, err)
	}
	wait(n0.loaded, "shard 0 of epoch 1 loaded")
	if _, err := s0.sh.Writer.Append([]byte("x"), nil); !errors.Is(err, ErrStopped) {
		t.Fatalf("append by the unloaded shard: %v", err)
	}
	if _, err := lookup(2); !errors.Is(err, kerr.NotCoordinator) {
		t.Fatalf("partition 2 after it moved: %v", err)
	}
	r.Close()
	wait(n0.unloaded, "shard 0 unloaded at close")
	if _, err := lookup(0); !errors.Is(err, kerr.CoordinatorNotAvailable) {
		t.Fatalf("lookup after close: %v", err)
	}
	r.OnImage(image(id, []int32{1, 1, 1}, []int32{2, 0, 0})) // no effect once closed
	if len(states) != 3 {
		t.Fatalf("%d shards made, want 3", len(states))
	}
}
