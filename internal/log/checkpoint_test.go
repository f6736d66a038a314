package log

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFileAtomic: the file holds the new content after a success, and
// keeps its old content (or stays absent) after a failed write, fsync or
// rename, with no temporary file left, also across a crash that loses
// every unsynced byte.
func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	const oldContent, newContent = "old content\n", "new content, longer than the old\n"
	for _, tc := range []struct {
		name   string
		exists bool              // the file holds old before
		fault  func(fs *FaultFS) // nil: no fault
	}{
		{name: "create", exists: false},
		{name: "replace", exists: true},
		{name: "write fails", exists: true, fault: func(fs *FaultFS) {
			fs.InjectWrite(WriteFault{Match: ".tmp", Nth: 1, Partial: 3})
		}},
		{name: "write fails, no file before", exists: false, fault: func(fs *FaultFS) {
			fs.InjectWrite(WriteFault{Match: ".tmp", Nth: 1})
		}},
		{name: "fsync fails", exists: true, fault: func(fs *FaultFS) { fs.InjectSync(".tmp", nil) }},
		{name: "rename fails", exists: true, fault: func(fs *FaultFS) { fs.InjectRename(".tmp", nil) }},
		{name: "rename fails, no file before", exists: false, fault: func(fs *FaultFS) { fs.InjectRename(".tmp", nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fsys := NewFaultFS(nil)
			path := filepath.Join(t.TempDir(), "partition.metadata")
			if tc.exists {
				if err := WriteFileAtomic(fsys, path, []byte(oldContent)); err != nil {
					t.Fatal(err)
				}
			}
			want := newContent
			if tc.fault != nil {
				tc.fault(fsys)
				want = oldContent
			}
			err := WriteFileAtomic(fsys, path, []byte(newContent))
			if tc.fault == nil && err != nil {
				t.Fatalf("WriteFileAtomic: %v", err)
			}
			if tc.fault != nil && !errors.Is(err, ErrInjected) {
				t.Fatalf("WriteFileAtomic with a fault: %v, want ErrInjected", err)
			}
			fsys.ClearFaults()
			check := func(when string) {
				t.Helper()
				b, err := os.ReadFile(path)
				switch {
				case tc.fault != nil && !tc.exists:
					if !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("%s: the file exists (%q, %v), want none", when, b, err)
					}
				case err != nil || string(b) != want:
					t.Fatalf("%s: file holds %q (%v), want %q", when, b, err, want)
				}
				if _, err := os.Stat(path + tmpSuffix); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s: temporary file left (%v)", when, err)
				}
			}
			check("after the write")
			if err := fsys.Crash(); err != nil {
				t.Fatal(err)
			}
			check("after a crash")
		})
	}
}

// TestHWCheckpoint: replication-offset-checkpoint in Kafka's text format,
// written sorted and read back; a missing file is empty, a damaged one an
// error.
func TestHWCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fsys := OSFS()
	if hws, err := ReadHWCheckpoint(fsys, dir); err != nil || len(hws) != 0 {
		t.Fatalf("missing file: %v, %v", hws, err)
	}
	hws := map[TopicPartition]int64{
		{"orders", 10}:            5,
		{"orders", 2}:             1234567890123,
		{"__consumer_offsets", 0}: 0,
		{"a.b-c_d", 7}:            42,
	}
	if err := WriteHWCheckpoint(fsys, dir, hws); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, HWCheckpointFile))
	const want = "0\n4\n__consumer_offsets 0 0\na.b-c_d 7 42\norders 2 1234567890123\norders 10 5\n"
	if err != nil || string(b) != want {
		t.Fatalf("file %q, %v; want %q", b, err, want)
	}
	got, err := ReadHWCheckpoint(fsys, dir)
	if err != nil || !maps.Equal(got, hws) {
		t.Fatalf("read back %v, %v", got, err)
	}
	if err := WriteHWCheckpoint(fsys, dir, map[TopicPartition]int64{{"bad topic", 0}: 1}); err == nil {
		t.Fatal("a topic name with a space was written")
	}
	if b2, _ := os.ReadFile(filepath.Join(dir, HWCheckpointFile)); string(b2) != want {
		t.Fatalf("a refused write changed the file: %q", b2)
	}
	if err := WriteHWCheckpoint(fsys, dir, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadHWCheckpoint(fsys, dir); err != nil || len(got) != 0 {
		t.Fatalf("empty checkpoint read as %v, %v", got, err)
	}

	for _, tc := range []struct{ name, content string }{
		{"empty file", ""},
		{"version 1", "1\n0\n"},
		{"count too high", "0\n2\nt 0 1\n"},
		{"count too low", "0\n1\nt 0 1\nt 1 1\n"},
		{"two fields", "0\n1\nt 0\n"},
		{"four fields", "0\n1\nt 0 1 2\n"},
		{"partition not a number", "0\n1\nt x 1\n"},
		{"partition past int32", "0\n1\nt 2147483648 1\n"},
		{"offset not a number", "0\n1\nt 0 1.5\n"},
		{"partition twice", "0\n2\nt 0 1\nt 0 2\n"},
	} {
		if err := os.WriteFile(filepath.Join(dir, HWCheckpointFile), []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadHWCheckpoint(fsys, dir); err == nil {
			t.Errorf("%s: read as %v, want an error", tc.name, got)
		}
	}
}
