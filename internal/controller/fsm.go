package controller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// fsm is the Raft state machine: it applies committed entries (batches of
// metadata records) to the image, in log order, on every voter. Raft calls
// Apply, Snapshot and Restore from one goroutine; readers load the image
// and the tail under mu.
//
// An entry applies atomically: if one of its records does not fit the
// image, none of them does and the entry's answer is the error. That is
// deterministic (every voter applies the same entries to the same image),
// so voters never diverge. A record this build does not know stops the
// state machine for good (fatal): applying around it would build a wrong
// image, so the node must be upgraded instead.
type fsm struct {
	fatal   func(error)
	publish func(*metadata.Image)

	mu      sync.Mutex
	img     *metadata.Image
	tail    []tailEntry // the newest applied entries, for brokers' metadata fetch
	tailMax int
	// tailFloor: every command entry after it is in tail.
	tailFloor int64
	broken    error
	changed   chan struct{} // closed and replaced on every apply

	sinceSnapshot int64 // entry bytes applied since the last snapshot
	snapshotBytes int64
	wantSnapshot  chan struct{}
}

type tailEntry struct {
	index int64
	data  []byte
}

func newFSM(img *metadata.Image, tailMax int, snapshotBytes int64, publish func(*metadata.Image), fatal func(error)) *fsm {
	return &fsm{img: img, tailFloor: img.Offset, tailMax: tailMax, snapshotBytes: snapshotBytes, publish: publish, fatal: fatal,
		changed: make(chan struct{}), wantSnapshot: make(chan struct{}, 1)}
}

// image is the applied image.
func (f *fsm) image() *metadata.Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.img
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.mu.Lock()
	if f.broken != nil {
		f.mu.Unlock()
		return f.broken
	}
	recs, err := metadata.DecodeEntry(l.Data)
	if err != nil {
		f.broken = fmt.Errorf("controller: metadata entry %d: %w", l.Index, err)
		f.mu.Unlock()
		f.fatal(f.broken)
		return f.broken
	}
	next, err := f.img.ApplyEntry(int64(l.Index), recs)
	var out any
	if err != nil {
		out, recs = err, nil // refused as a whole; see the type's comment
	}
	f.img = next
	// The tail holds only what brokers must apply: a refused entry is
	// carried as an empty one so offsets stay contiguous.
	data := l.Data
	if recs == nil {
		data = nil
	}
	f.tail = append(f.tail, tailEntry{index: int64(l.Index), data: data})
	if len(f.tail) > f.tailMax {
		drop := len(f.tail) - f.tailMax/2
		f.tailFloor = f.tail[drop-1].index
		f.tail = append(f.tail[:0:0], f.tail[drop:]...)
	}
	f.sinceSnapshot += int64(len(l.Data))
	if f.snapshotBytes > 0 && f.sinceSnapshot >= f.snapshotBytes {
		f.sinceSnapshot = 0
		select {
		case f.wantSnapshot <- struct{}{}:
		default:
		}
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	f.publish(next)
	return out
}

// Snapshot implements raft.FSM: the image is immutable, so the snapshot
// is just the pointer, encoded later off Raft's goroutine.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken != nil {
		return nil, f.broken
	}
	return imageSnapshot{f.img}, nil
}

// Restore implements raft.FSM: the image is replaced by the snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSnapshotBytes+1))
	if err != nil {
		return fmt.Errorf("controller: read snapshot: %w", err)
	}
	if len(b) > maxSnapshotBytes {
		return errors.New("controller: snapshot larger than 1 GiB")
	}
	f.mu.Lock()
	img, err := metadata.DecodeSnapshot(b, f.img.ControllerID)
	if err != nil {
		f.mu.Unlock()
		if errors.Is(err, metadata.ErrUnknownRecord) {
			f.fatal(err)
		}
		return fmt.Errorf("controller: restore snapshot: %w", err)
	}
	f.img = img
	f.tail = nil
	f.tailFloor = img.Offset
	f.sinceSnapshot = 0
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	f.publish(img)
	return nil
}

const maxSnapshotBytes = 1 << 30

type imageSnapshot struct{ img *metadata.Image }

func (s imageSnapshot) Persist(sink raft.SnapshotSink) error {
	b, err := s.img.EncodeSnapshot()
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (imageSnapshot) Release() {}

// Fetched is what a metadata fetch returns: entries after an offset, or,
// when the tail no longer reaches back that far, the whole image.
type Fetched struct {
	Entries  []FetchedEntry
	Snapshot *metadata.Image
	// HighWatermark is the offset of the newest applied entry.
	HighWatermark int64
}

// FetchedEntry is one committed entry; Data is nil for an entry the state
// machine refused (it changes nothing but the offset).
type FetchedEntry struct {
	Offset int64
	Data   []byte
}

// fetch returns what follows offset `after`, waiting up to ctx for
// something new when nothing is. Entries come from the tail when it holds
// every command entry after `after` (Raft's indexes have gaps where
// configuration and no-op entries sit, so the tail's floor, not its first
// index, decides); otherwise the whole image is sent.
func (f *fsm) fetch(ctx context.Context, after int64, maxBytes int) Fetched {
	for {
		f.mu.Lock()
		img, ch := f.img, f.changed
		if img.Offset > after {
			out := Fetched{HighWatermark: img.Offset}
			if after < f.tailFloor {
				out.Snapshot = img
			} else {
				size := 0
				for _, e := range f.tail {
					if e.index <= after {
						continue
					}
					if size > 0 && size+len(e.data) > maxBytes {
						break
					}
					out.Entries = append(out.Entries, FetchedEntry{Offset: e.index, Data: e.data})
					size += len(e.data)
				}
				if n := len(out.Entries); n > 0 && out.Entries[n-1].Offset < img.Offset {
					out.HighWatermark = out.Entries[n-1].Offset
				}
				if len(out.Entries) == 0 {
					// Nothing but offset moves (a refused entry at the
					// end is carried, so this means none): the image
					// says it all.
					out.Snapshot = img
				}
			}
			f.mu.Unlock()
			return out
		}
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Fetched{HighWatermark: img.Offset}
		}
	}
}
