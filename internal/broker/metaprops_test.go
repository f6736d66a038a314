package broker

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/log"
)

const (
	idA = "MkU3OEVBNTcwNTJENDM2Qg"
	idB = "4L6g3nShT-eMCtK--X86sw"
)

func TestMetaPropertiesRead(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, content string
		want          MetaProperties
		err           string
	}{
		{"samsa's", "version=1\ncluster.id=" + idA + "\nnode.id=3\n", MetaProperties{idA, 3}, ""},
		// As Kafka 3.7+ writes it: a date comment, sorted keys, a directory id.
		{"kafka's", "#\n#Thu Nov 14 10:00:00 UTC 2024\ncluster.id=" + idA + "\ndirectory.id=AAAAAAAAAAAAAAAAAAAAAQ\nnode.id=2\nversion=1\n", MetaProperties{idA, 2}, ""},
		{"spaces", "  version = 1\n! comment\ncluster.id= " + idA + "\nnode.id =7\n", MetaProperties{idA, 7}, ""},
		{"zookeeper mode", "version=0\nbroker.id=1\ncluster.id=" + idA + "\n", MetaProperties{}, "version=0, samsa reads version 1"},
		{"no node id", "version=1\ncluster.id=" + idA + "\n", MetaProperties{}, `node.id="" is not a node id`},
		{"no cluster id", "version=1\nnode.id=1\n", MetaProperties{}, "has no cluster.id"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "meta.properties"), []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadMetaProperties(log.OSFS(), dir)
		if (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v, error containing %q", c.name, got, err, c.want, c.err)
		}
	}
	if _, err := ReadMetaProperties(log.OSFS(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unformatted directory: %v, want fs.ErrNotExist", err)
	}
}

// TestMetaPropertiesWriteFaults: meta.properties is written through the
// data dir's log.FS, atomically: a failed write or rename leaves the old
// file, and a written one survives a crash.
func TestMetaPropertiesWriteFaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ffs := log.NewFaultFS(nil)
	old := MetaProperties{idA, 1}
	if err := WriteMetaProperties(ffs, dir, old); err != nil {
		t.Fatal(err)
	}
	if err := ffs.Crash(); err != nil {
		t.Fatal(err)
	}
	for _, inject := range []func(){
		func() { ffs.InjectWrite(log.WriteFault{Match: "meta.properties", Partial: 5}) },
		func() { ffs.InjectSync("meta.properties", nil) },
		func() { ffs.InjectRename("meta.properties", nil) },
	} {
		inject()
		if err := WriteMetaProperties(ffs, dir, MetaProperties{idB, 1}); !errors.Is(err, log.ErrInjected) {
			t.Errorf("write with a fault: %v, want ErrInjected", err)
		}
		ffs.ClearFaults()
		if got, err := ReadMetaProperties(ffs, dir); err != nil || got != old {
			t.Errorf("after a failed write: %+v, %v; want %+v", got, err, old)
		}
	}

	// A broker whose meta.properties cannot be written does not start.
	ffs.InjectRename("meta.properties", nil)
	cfg, err := config.Load("", []string{"cluster.id=" + idB}, map[string]string{"log.dirs": t.TempDir(), "listeners": "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := Start(cfg, Options{LogFS: ffs}); !errors.Is(err, log.ErrInjected) {
		if b != nil {
			b.Shutdown(t.Context())
		}
		t.Errorf("start with meta.properties unwritable: %v, want ErrInjected", err)
	}
}

func TestLoadMetaProperties(t *testing.T) {
	t.Parallel()
	osfs := log.OSFS()
	dir := t.TempDir()
	if got, err := loadMetaProperties(osfs, dir, 1, ""); got != "" || err != nil {
		t.Fatalf("fresh, nothing configured: %q, %v", got, err)
	}
	if got, err := loadMetaProperties(osfs, dir, 1, idA); got != idA || err != nil {
		t.Fatalf("fresh, configured: %q, %v", got, err)
	}
	if got, err := ReadMetaProperties(osfs, dir); got != (MetaProperties{idA, 1}) || err != nil {
		t.Fatalf("the configured id is written: %+v, %v", got, err)
	}
	if got, err := loadMetaProperties(osfs, dir, 1, ""); got != idA || err != nil {
		t.Errorf("formatted, nothing configured: %q, %v", got, err)
	}
	if _, err := loadMetaProperties(osfs, dir, 1, idB); err == nil || !strings.Contains(err.Error(), "belongs to cluster "+idA+", not "+idB) {
		t.Errorf("another configured cluster: %v", err)
	}
	if _, err := loadMetaProperties(osfs, dir, 2, ""); err == nil || !strings.Contains(err.Error(), "belongs to node.id 1, not 2") {
		t.Errorf("another node: %v", err)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new")
	if err := Format(nil, dir, 4, idA); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "meta.properties"))
	if err != nil || string(b) != "version=1\ncluster.id="+idA+"\nnode.id=4\n" {
		t.Fatalf("meta.properties %q, %v", b, err)
	}
	if err := Format(nil, dir, 4, idA); !errors.Is(err, ErrFormatted) {
		t.Errorf("formatted again: %v, want ErrFormatted", err)
	}
	for _, c := range []struct {
		node int32
		id   string
		want string
	}{
		{4, idB, "belongs to cluster " + idA + ", not " + idB},
		{5, idA, "belongs to node.id 4, not 5"},
	} {
		if err := Format(nil, dir, c.node, c.id); err == nil || errors.Is(err, ErrFormatted) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("format for node %d, cluster %s: %v, want %q", c.node, c.id, err, c.want)
		}
	}
	lock, err := lockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := Format(nil, dir, 4, idA); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("format of a locked directory: %v", err)
	}
}
