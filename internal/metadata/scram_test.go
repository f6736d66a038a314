package metadata

import (
	"bytes"
	"reflect"
	"testing"
)

// TestScramCredentials: credentials are set, replaced and removed per user
// and mechanism, survive a snapshot, and a record that does not fit (an
// unknown mechanism, an empty user, removing what is not there) is refused
// without changing the image.
func TestScramCredentials(t *testing.T) {
	t.Parallel()
	cred := func(iters int32) ScramCredential {
		return ScramCredential{Salt: []byte{byte(iters)}, StoredKey: []byte{1}, ServerKey: []byte{2}, Iterations: iters}
	}
	set := func(user string, m ScramMechanism, iters int32) Record {
		return Record{UserScramCredential: &UserScramCredential{Name: user, Mechanism: m, ScramCredential: cred(iters)}}
	}
	remove := func(user string, m ScramMechanism) Record {
		return Record{RemoveUserScramCredential: &RemoveUserScramCredential{Name: user, Mechanism: m}}
	}
	im := Empty("c", 1)
	off := int64(0)
	apply := func(r Record) error {
		off++
		next, err := im.Apply(off, r)
		if err != nil {
			if next != im {
				t.Fatalf("a refused record changed the image")
			}
			return err
		}
		im = next
		return nil
	}
	for _, r := range []Record{set("alice", ScramSHA256, 4096), set("alice", ScramSHA512, 8192), set("bob", ScramSHA256, 5000), set("alice", ScramSHA256, 4097)} {
		if err := apply(r); err != nil {
			t.Fatal(err)
		}
	}
	before := im
	if err := apply(remove("bob", ScramSHA256)); err != nil {
		t.Fatal(err)
	}
	if _, ok := before.ScramCredential("bob", ScramSHA256); !ok {
		t.Fatal("applying a removal changed the image it was applied to")
	}
	if got := im.ScramUsers(); !reflect.DeepEqual(got, []string{"alice"}) {
		t.Fatalf("users %v, want [alice]", got)
	}
	if c, ok := im.ScramCredential("alice", ScramSHA256); !ok || !reflect.DeepEqual(c, cred(4097)) {
		t.Fatalf("alice's SCRAM-SHA-256: %+v %v, want the replacement", c, ok)
	}
	for _, r := range []Record{remove("bob", ScramSHA256), remove("alice", 3), set("", ScramSHA256, 4096), set("carol", 0, 4096), set("carol", 3, 4096)} {
		if err := apply(r); err == nil {
			t.Fatalf("%+v applied", r)
		}
	}
	snap, err := im.EncodeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSnapshot(snap, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.ScramCredentials, im.ScramCredentials) {
		t.Fatalf("snapshot: %+v, want %+v", back.ScramCredentials, im.ScramCredentials)
	}
	// The last credential gone, the image has none (and a snapshot
	// without the field, which a build before metadata.version 5 reads).
	if err := apply(remove("alice", ScramSHA256)); err != nil {
		t.Fatal(err)
	}
	if err := apply(remove("alice", ScramSHA512)); err != nil {
		t.Fatal(err)
	}
	if im.ScramCredentials != nil {
		t.Fatalf("credentials left: %+v", im.ScramCredentials)
	}
	if snap, err := im.EncodeSnapshot(); err != nil || bytes.Contains(snap, []byte("scramCredentials")) {
		t.Fatal("a snapshot without credentials names the field")
	}
}
