package log

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// WriteFileAtomic replaces the file at path with data so that a crash
// leaves the old or the new content, never a mix or a torn file: data is
// written to path.tmp, fsynced, renamed over path, and the directory is
// fsynced so the rename itself is durable. On any error the temporary file
// is removed (best effort: Open removes a leftover *.tmp in a log
// directory) and the old file, if there was one, is untouched. The small
// metadata files of samsa's storage (checkpoints, snapshots, the
// clean-shutdown marker, partition.metadata) are all written this way.
func WriteFileAtomic(fsys FS, path string, data []byte) error {
	tmp := path + tmpSuffix
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("log: create %s: %w", tmp, err)
	}
	n, err := f.Write(data)
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fsys.Rename(tmp, path)
	}
	if err != nil {
		removeIfExists(fsys, tmp)
		return fmt.Errorf("log: write %s: %w", path, err)
	}
	// The new content is in place; only the rename's durability is left.
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("log: write %s: sync directory: %w", path, err)
	}
	return nil
}

// ReadFile reads the whole file name through fsys. A missing file is an
// error matching fs.ErrNotExist.
func ReadFile(fsys FS, name string) ([]byte, error) {
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("log: open %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("log: stat %s: %w", name, err)
	}
	b := make([]byte, fi.Size())
	if n, err := f.ReadAt(b, 0); n < len(b) {
		return nil, fmt.Errorf("log: read %s: %w", name, err)
	}
	return b, nil
}

// Text checkpoints use Kafka's checkpoint-file layout, so an operator who
// knows `leader-epoch-checkpoint` can read ours:
//
//	<version>\n<count>\n<entry>\n...
//
// log-start-offset holds one entry, the offset; leader-epoch-checkpoint
// holds "epoch startOffset" entries.
const (
	logStartOffsetFile  = "log-start-offset"
	leaderEpochFile     = "leader-epoch-checkpoint"
	checkpointVersion   = 0
	maxCheckpointFields = 2
)

func encodeCheckpoint(entries [][]int64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(entries))
	for _, e := range entries {
		for i, v := range e {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatInt(v, 10))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// readCheckpoint parses a checkpoint whose entries have fields numbers
// each. A missing file is no entries and no error.
func readCheckpoint(fsys FS, name string, fields int) ([][]int64, error) {
	lines, err := readCheckpointLines(fsys, name)
	if err != nil {
		return nil, err
	}
	entries := make([][]int64, 0, len(lines))
	for i, line := range lines {
		parts := strings.Fields(line)
		if len(parts) != fields {
			return nil, fmt.Errorf("log: %s: entry %d malformed", name, i)
		}
		e := make([]int64, fields)
		for j, p := range parts {
			if e[j], err = strconv.ParseInt(p, 10, 64); err != nil {
				return nil, fmt.Errorf("log: %s: entry %d: %v", name, i, err)
			}
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// readCheckpointLines reads a text checkpoint and returns its entry lines,
// having checked the version and that the count matches them. A missing
// file is no entries and no error. An empty file is an error (Kafka reads
// it as no entries, but samsa never writes one: it can only be damage,
// and for the leader-epoch checkpoint the caller then rebuilds from the
// log).
func readCheckpointLines(fsys FS, name string) ([]string, error) {
	b, err := ReadFile(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	bad := func(why string) error { return fmt.Errorf("log: %s: %s", name, why) }
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := line()
	if !ok || v != strconv.Itoa(checkpointVersion) {
		return nil, bad("bad version line")
	}
	v, ok = line()
	count, err := strconv.Atoi(v)
	if !ok || err != nil || count < 0 || count > len(b) {
		return nil, bad("bad count line")
	}
	lines := make([]string, 0, count)
	for i := range count {
		v, ok = line()
		if !ok {
			return nil, bad(fmt.Sprintf("%d entries, count says %d", i, count))
		}
		lines = append(lines, v)
	}
	if _, more := line(); more {
		return nil, bad("trailing lines")
	}
	if err := sc.Err(); err != nil {
		return nil, bad(err.Error())
	}
	return lines, nil
}

// readLogStartOffset returns the persisted log start offset, or -1.
func readLogStartOffset(fsys FS, dir string) (int64, error) {
	e, err := readCheckpoint(fsys, filepath.Join(dir, logStartOffsetFile), 1)
	if err != nil || len(e) != 1 {
		return -1, err
	}
	return e[0][0], nil
}

func writeLogStartOffset(fsys FS, dir string, off int64) error {
	return WriteFileAtomic(fsys, filepath.Join(dir, logStartOffsetFile), encodeCheckpoint([][]int64{{off}}))
}

// HWCheckpointFile is the high-watermark checkpoint of a data directory,
// Kafka's replication-offset-checkpoint: one "topic partition offset"
// entry per partition replica in the directory. A broker writes it
// periodically and on shutdown, and reads it when it opens its replicas,
// so a restarted replica does not start from a high watermark of zero.
const HWCheckpointFile = "replication-offset-checkpoint"

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// WriteHWCheckpoint replaces dataDir's replication-offset-checkpoint with
// hws, atomically (WriteFileAtomic), entries sorted by topic and
// partition. A topic name that the format cannot hold (empty, or with
// white space; Kafka's legal names never have it) is an error and nothing
// is written.
func WriteHWCheckpoint(fsys FS, dataDir string, hws map[TopicPartition]int64) error {
	keys := slices.SortedFunc(maps.Keys(hws), func(a, b TopicPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(keys))
	for _, k := range keys {
		if k.Topic == "" || strings.ContainsFunc(k.Topic, unicode.IsSpace) {
			return fmt.Errorf("log: %s: topic name %q cannot be checkpointed", HWCheckpointFile, k.Topic)
		}
		fmt.Fprintf(&b, "%s %d %d\n", k.Topic, k.Partition, hws[k])
	}
	return WriteFileAtomic(fsys, filepath.Join(dataDir, HWCheckpointFile), b.Bytes())
}

// ReadHWCheckpoint reads dataDir's replication-offset-checkpoint. A
// missing file is an empty map and no error; a malformed one (wrong
// version, a count that does not match the entries, an entry that is not
// "topic partition offset", a partition named twice) is an error, on
// which the caller should treat every high watermark as unknown, as Kafka
// does.
func ReadHWCheckpoint(fsys FS, dataDir string) (map[TopicPartition]int64, error) {
	name := filepath.Join(dataDir, HWCheckpointFile)
	lines, err := readCheckpointLines(fsys, name)
	if err != nil {
		return nil, err
	}
	hws := make(map[TopicPartition]int64, len(lines))
	for i, line := range lines {
		parts := strings.Fields(line)
		if len(parts) != 3 {
			return nil, fmt.Errorf("log: %s: entry %d malformed: %q", name, i, line)
		}
		p, perr := strconv.ParseInt(parts[1], 10, 32)
		off, oerr := strconv.ParseInt(parts[2], 10, 64)
		if err := errors.Join(perr, oerr); err != nil {
			return nil, fmt.Errorf("log: %s: entry %d: %w", name, i, err)
		}
		tp := TopicPartition{Topic: parts[0], Partition: int32(p)}
		if _, dup := hws[tp]; dup {
			return nil, fmt.Errorf("log: %s: %s-%d named twice", name, tp.Topic, tp.Partition)
		}
		hws[tp] = off
	}
	return hws, nil
}

// EpochEntry says that leader epoch Epoch wrote its first batch at
// StartOffset (Kafka's leader-epoch cache, KIP-101/KIP-279).
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// epochCache is the leader-epoch checkpoint in memory. Changes are built
// as a new slice, persisted, then installed (under mu), so the in-memory
// entries never run ahead of the file and readers see a consistent list.
// Writers hold Log.mu.
type epochCache struct {
	fs  FS
	dir string

	mu      sync.RWMutex
	entries []EpochEntry // epochs and start offsets strictly increasing
}

func loadEpochCache(fsys FS, dir string) (*epochCache, error) {
	c := &epochCache{fs: fsys, dir: dir}
	raw, err := readCheckpoint(fsys, filepath.Join(dir, leaderEpochFile), maxCheckpointFields)
	if err != nil {
		return nil, err
	}
	for i, e := range raw {
		ent := EpochEntry{Epoch: int32(e[0]), StartOffset: e[1]}
		if e[0] < 0 || e[0] > 1<<31-1 || e[1] < 0 || (i > 0 && (ent.Epoch <= c.entries[i-1].Epoch || ent.StartOffset <= c.entries[i-1].StartOffset)) {
			return nil, fmt.Errorf("log: %s: entry %d (%d, %d) out of order", leaderEpochFile, i, e[0], e[1])
		}
		c.entries = append(c.entries, ent)
	}
	return c, nil
}

// list returns a copy of the entries.
func (c *epochCache) list() []EpochEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.entries)
}

// latest returns the newest epoch, or -1.
func (c *epochCache) latest() int32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// install persists entries and makes them current.
func (c *epochCache) install(entries []EpochEntry) error {
	raw := make([][]int64, len(entries))
	for i, e := range entries {
		raw[i] = []int64{int64(e.Epoch), e.StartOffset}
	}
	if err := WriteFileAtomic(c.fs, filepath.Join(c.dir, leaderEpochFile), encodeCheckpoint(raw)); err != nil {
		return err
	}
	c.mu.Lock()
	c.entries = entries
	c.mu.Unlock()
	return nil
}

// assign records that epoch starts at start, if epoch is newer than every
// known one, and reports whether it did. Like Kafka it first drops entries
// that start at or after start, which a failed append may have left.
func (c *epochCache) assign(epoch int32, start int64) (bool, error) {
	if epoch < 0 || epoch <= c.latest() {
		return false, nil
	}
	next := slices.Clone(c.entries)
	for len(next) > 0 && next[len(next)-1].StartOffset >= start {
		next = next[:len(next)-1]
	}
	if err := c.install(append(next, EpochEntry{Epoch: epoch, StartOffset: start})); err != nil {
		return false, err
	}
	return true, nil
}

// endOffsetFor answers OffsetForLeaderEpoch for epoch in a log that ends
// at leo, with the semantics of Kafka's LeaderEpochFileCache.endOffsetFor:
//
//   - epoch -1 (undefined), or an empty cache, or epoch above every known
//     one: (-1, -1);
//   - epoch is the latest: (epoch, leo);
//   - epoch below the first entry: (epoch, first entry's start offset),
//     the requested epoch echoed (the log lost the older data; the
//     follower truncates to where the leader's log begins);
//   - else: (the largest known epoch <= epoch, the start offset of the
//     first epoch above it).
func (c *epochCache) endOffsetFor(epoch int32, leo int64) (int32, int64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.entries)
	if epoch < 0 || n == 0 {
		return -1, -1
	}
	if c.entries[n-1].Epoch == epoch {
		return epoch, leo
	}
	// higher is the first entry with an epoch above the requested one.
	higher := sort.Search(n, func(i int) bool { return c.entries[i].Epoch > epoch })
	switch {
	case higher == n:
		return -1, -1
	case higher == 0:
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// follow records the epoch of a replicated batch starting at start, with
// the rule of Kafka's LeaderEpochFileCache.assign, so that the cache
// follows the batches as the leader wrote them: nothing to do when epoch
// is the latest and start not below its start; else the entries that
// epoch and start contradict (an epoch at or above it, or a start at or
// after start) go, and epoch starts at start. It reports whether the
// cache changed.
func (c *epochCache) follow(epoch int32, start int64) (bool, error) {
	if epoch < 0 {
		return false, nil
	}
	if n := len(c.entries); n > 0 && c.entries[n-1].Epoch == epoch && c.entries[n-1].StartOffset <= start {
		return false, nil
	}
	next := slices.Clone(c.entries)
	for len(next) > 0 && (next[len(next)-1].Epoch >= epoch || next[len(next)-1].StartOffset >= start) {
		next = next[:len(next)-1]
	}
	if err := c.install(append(next, EpochEntry{Epoch: epoch, StartOffset: start})); err != nil {
		return false, err
	}
	return true, nil
}

// truncateFromEnd drops the entries that start at or after end.
func (c *epochCache) truncateFromEnd(end int64) error {
	next := slices.Clone(c.entries)
	for len(next) > 0 && next[len(next)-1].StartOffset >= end {
		next = next[:len(next)-1]
	}
	if len(next) == len(c.entries) {
		return nil
	}
	return c.install(next)
}

// truncateFromStart drops the entries wholly below start: the last entry
// that starts below it is kept, moved up to start (it still names the
// epoch of the first remaining offset).
func (c *epochCache) truncateFromStart(start int64) error {
	i := 0
	for i < len(c.entries) && c.entries[i].StartOffset < start {
		i++
	}
	if i == 0 {
		return nil
	}
	var next []EpochEntry
	if i < len(c.entries) && c.entries[i].StartOffset == start {
		next = slices.Clone(c.entries[i:])
	} else {
		next = slices.Clone(c.entries[i-1:])
		next[0].StartOffset = start
	}
	return c.install(next)
}

// clear drops every entry.
func (c *epochCache) clear() error {
	if len(c.entries) == 0 {
		return nil
	}
	return c.install(nil)
}
