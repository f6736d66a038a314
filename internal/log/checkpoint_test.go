package log

import (
	"errors"
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
