package replication

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
)

// hangGuard bounds every wait of these tests: a step that has not happened
// by then is a bug (a lock held across disk work), reported instead of
// hanging the package. It is not a timing assertion: the steps need
// microseconds.
const hangGuard = 20 * time.Second

// gateFS blocks one kind of operation on paths containing match until
// release is called; entered is closed when the first one arrives.
type gateFS struct {
	log.FS
	op, match string // op: "open" or "remove"

	once    sync.Once
	entered chan struct{}
	gate    chan struct{}
	closeMu sync.Once
}

func newGateFS(op, match string) *gateFS {
	return &gateFS{FS: log.OSFS(), op: op, match: match, entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gateFS) wait(op, name string) {
	if op == g.op && strings.Contains(name, g.match) {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
	}
}

func (g *gateFS) release() { g.closeMu.Do(func() { close(g.gate) }) }

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (log.File, error) {
	g.wait("open", name)
	return g.FS.OpenFile(name, flag, perm)
}

func (g *gateFS) Remove(name string) error {
	g.wait("remove", name)
	return g.FS.Remove(name)
}

// waitClosed waits for ch to be closed, failing the test after hangGuard.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(hangGuard):
		t.Fatalf("%s: not done after %v", what, hangGuard)
	}
}

// within runs f in a goroutine and waits for it (see waitClosed), so a
// call that blocks on a held lock fails the test rather than hanging it.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	waitClosed(t, done, what)
}

// eventually polls cond until it holds, failing after hangGuard.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last seen: %s", what, hangGuard, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newManager(t *testing.T, dir string, fsys log.FS) *Manager {
	t.Helper()
	m := New(Config{
		NodeID:  1,
		DataDir: dir,
		Logger:  slog.New(slog.DiscardHandler),
		Resolve: func(map[string]string) partition.Config {
			return partition.Config{
				Log:             log.Config{SegmentBytes: 1024},
				MaxMessageBytes: 1 << 20, TimestampBeforeMaxMs: math.MaxInt64, TimestampAfterMaxMs: math.MaxInt64,
				MinInsyncReplicas: 1, Delete: true, RetentionMs: -1, RetentionBytes: -1,
			}
		},
		LogOptions: log.Options{FS: fsys, Logger: slog.New(slog.DiscardHandler)},
	})
	t.Cleanup(func() { m.Close() })
	return m
}

func apply(t *testing.T, img *metadata.Image, r metadata.Record) *metadata.Image {
	t.Helper()
	next, err := img.Apply(img.Offset+1, r)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// withTopic adds a topic of n partitions, each with node 1 as its replica.
func withTopic(t *testing.T, img *metadata.Image, name string, n int) *metadata.Image {
	t.Helper()
	replicas := slices.Repeat([][]int32{{1}}, n)
	return apply(t, img, metadata.Record{CreateTopic: &metadata.CreateTopic{Name: name, ID: metadata.NewUUID(), Replicas: replicas}})
}

func withoutTopic(t *testing.T, img *metadata.Image, name string) *metadata.Image {
	t.Helper()
	return apply(t, img, metadata.Record{DeleteTopic: &metadata.DeleteTopic{ID: img.Topics[name].ID}})
}

// appendOne appends a one-record batch to p and checks that it lands at
// the log end. It only reports, so goroutines other than the test's may
// call it.
func appendOne(p *partition.Partition) error {
	want := p.LogEndOffset()
	b, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Value: []byte(strings.Repeat("v", 100))}},
		record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	res, err := p.Append(b)
	if err != nil || res.BaseOffset != want {
		return fmt.Errorf("append to %s-%d: offset %d, %v; want offset %d", p.Topic, p.Index, res.BaseOffset, err, want)
	}
	return nil
}

// fill appends n one-record batches to p.
func fill(t *testing.T, p *partition.Partition, n int) {
	t.Helper()
	for range n {
		if err := appendOne(p); err != nil {
			t.Fatal(err)
		}
	}
}

// dirs lists the directories in the data directory, sorted, with every
// name moved away for removal shown as <topic>-<partition>.ID-delete.
func dirs(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		name := e.Name()
		if isDeleteDir(name) {
			name = name[:len(name)-len(deleteSuffix)-33] + ".ID" + deleteSuffix
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestDeleteTopicDoesNotBlock: deleting a topic renames its partition
// directories to <topic>-<partition>.<id>-delete and returns; the files
// are removed in the background. While that removal is stuck, lookups and
// appends on another topic, a further Apply, and creating the deleted
// topic again under its name all go on.
func TestDeleteTopicDoesNotBlock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := newGateFS("remove", deleteSuffix)
	defer fsys.release()
	m := newManager(t, dir, fsys)

	img0 := metadata.Empty("c", 1)
	img1 := withTopic(t, withTopic(t, img0, "big", 2), "other", 1)
	m.Apply(img0, img1)
	for i := range int32(2) {
		fill(t, m.Partition("big", i), 60) // several 1 KiB segments each
	}
	fill(t, m.Partition("other", 0), 1)

	img2 := withoutTopic(t, img1, "big")
	within(t, "Apply deleting a topic", func() { m.Apply(img1, img2) })
	waitClosed(t, fsys.entered, "the background removal")
	// The removal is now blocked inside big-*.ID-delete.
	if got, want := dirs(t, dir), []string{"big-0.ID-delete", "big-1.ID-delete", "other-0"}; !slices.Equal(got, want) {
		t.Fatalf("data dir holds %q, want %q", got, want)
	}
	within(t, "lookups and an append during the removal", func() {
		if p := m.Partition("big", 0); p != nil {
			t.Errorf("deleted topic's partition still found")
		}
		if p := m.Partition("other", 0); p == nil {
			t.Errorf("other-0 not found")
		} else if err := appendOne(p); err != nil {
			t.Error(err)
		}
		n := 0
		m.Each(func(*partition.Partition) { n++ })
		if n != 1 {
			t.Errorf("Each saw %d replicas, want 1", n)
		}
	})
	// The name is free at once: the topic comes back empty.
	img3 := withTopic(t, img2, "big", 1)
	within(t, "Apply creating the topic again", func() { m.Apply(img2, img3) })
	if p := m.Partition("big", 0); p == nil || p.LogEndOffset() != 0 {
		t.Fatalf("big-0 created again: %v, want an empty partition", p)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "big-0", topicIDFile)); err != nil || parseTopicID(string(b)) != img3.Topics["big"].ID.String() {
		t.Fatalf("big-0/%s: %q, %v; want the new topic id %s", topicIDFile, b, err, img3.Topics["big"].ID)
	}

	fsys.release()
	eventually(t, "the deleted directories to be removed", func() (bool, string) {
		got := dirs(t, dir)
		return slices.Equal(got, []string{"big-0", "other-0"}), strings.Join(got, " ")
	})
	if got := m.Partition("other", 0).LogEndOffset(); got != 2 {
		t.Fatalf("other-0 log end %d, want 2", got)
	}
}

// TestOpenDoesNotBlockLookups: while Apply opens a new topic's log, other
// partitions are found and take appends; the new partition is found once
// Apply returns.
func TestOpenDoesNotBlockLookups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := newGateFS("open", "slow-0")
	defer fsys.release()
	m := newManager(t, dir, fsys)

	img0 := metadata.Empty("c", 1)
	img1 := withTopic(t, img0, "other", 1)
	m.Apply(img0, img1)
	img2 := withTopic(t, img1, "slow", 1)
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		m.Apply(img1, img2)
	}()
	waitClosed(t, fsys.entered, "Apply to open slow-0")
	within(t, "a lookup and an append while a log opens", func() {
		if p := m.Partition("slow", 0); p != nil {
			t.Errorf("slow-0 found before its log is open")
		}
		if p := m.Partition("other", 0); p == nil {
			t.Errorf("other-0 not found")
		} else if err := appendOne(p); err != nil {
			t.Error(err)
		}
	})
	fsys.release()
	waitClosed(t, applied, "Apply")
	if p := m.Partition("slow", 0); p == nil {
		t.Fatal("slow-0 not found after Apply")
	}
	fill(t, m.Partition("slow", 0), 1)
}

// TestRestartRemovesStrayDirs: what a crash or a downtime left in the
// data directory goes at the first Apply: directories moved away for
// removal, and partition directories of topics that no longer exist.
// Directories that are not partitions of ours, and live partitions, stay.
func TestRestartRemovesStrayDirs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const leftover = "gone-0.0123456789abcdef0123456789abcdef-delete"
	write(leftover + "/00000000000000000000.log")
	write(leftover + "/" + topicIDFile)
	write("old-3/00000000000000000000.log")
	write("old-3/" + topicIDFile)
	write("notes-1/readme") // no partition.metadata: not ours
	write("ops.backup-delete/readme")

	m := newManager(t, dir, nil)
	img0 := metadata.Empty("c", 1)
	img1 := withTopic(t, img0, "live", 1)
	m.Apply(img0, img1)
	want := []string{"live-0", "notes-1", "ops.backup-delete"}
	eventually(t, "the stray directories to be removed", func() (bool, string) {
		got := dirs(t, dir)
		return slices.Equal(got, want), strings.Join(got, " ")
	})
	if m.Partition("live", 0) == nil {
		t.Fatal("live-0 not open")
	}
}

// TestCloseStopsRemoval: Close waits for the background removal to stop,
// an Apply after Close does nothing, and what was still queued is removed
// at the next start.
func TestCloseStopsRemoval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := newGateFS("remove", deleteSuffix)
	m := newManager(t, dir, fsys)
	img0 := metadata.Empty("c", 1)
	img1 := withTopic(t, img0, "a", 2)
	m.Apply(img0, img1)
	img2 := withoutTopic(t, img1, "a")
	m.Apply(img1, img2)
	waitClosed(t, fsys.entered, "the background removal")

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		m.Close()
	}()
	fsys.release() // Close waits for the directory being removed
	waitClosed(t, closed, "Close")
	waitClosed(t, m.deleter.done, "the removal goroutine to end")
	img3 := withTopic(t, img2, "b", 1)
	m.Apply(img2, img3)
	if m.Partition("b", 0) != nil {
		t.Fatal("Apply after Close opened a partition")
	}
	if got := dirs(t, dir); slices.Contains(got, "b-0") {
		t.Fatalf("Apply after Close created b-0: %q", got)
	}

	m2 := newManager(t, dir, nil)
	m2.Apply(metadata.Empty("c", 1), img3)
	eventually(t, "the queued directory to be removed at the next start", func() (bool, string) {
		got := dirs(t, dir)
		return slices.Equal(got, []string{"b-0"}), strings.Join(got, " ")
	})
}
