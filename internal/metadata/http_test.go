package metadata

import (
	"bytes"
	"errors"
	"testing"
)

// TestRegisterBrokerHTTP: a registration with an HTTP listener is encoded
// at version 1 of its type (an older build stops at it rather than
// misreading it), one without at version 0 (as before, so older builds
// read it), and the listener reaches the image and its snapshot.
func TestRegisterBrokerHTTP(t *testing.T) {
	with := Record{RegisterBroker: &RegisterBroker{NodeID: 1, Host: "h", Port: 9092, HTTP: "h:9080"}}
	without := Record{RegisterBroker: &RegisterBroker{NodeID: 2, Host: "h", Port: 9093}}
	for _, c := range []struct {
		r       Record
		version byte
	}{{with, 1}, {without, 0}} {
		b, err := EncodeEntry([]Record{c.r})
		if err != nil {
			t.Fatal(err)
		}
		// [format][count][type][version]...
		if b[3] != c.version {
			t.Fatalf("broker %d encoded at version %d, want %d", c.r.RegisterBroker.NodeID, b[3], c.version)
		}
		recs, err := DecodeEntry(b)
		if err != nil || recs[0].RegisterBroker.HTTP != c.r.RegisterBroker.HTTP {
			t.Fatalf("decoded %+v, %v", recs, err)
		}
		// An older build (RegisterBroker known only at version 0)
		// refuses version 1 as unknown.
		if c.version == 1 {
			saved := recordVersions[typeRegisterBroker]
			recordVersions[typeRegisterBroker] = 0
			_, err := DecodeEntry(b)
			recordVersions[typeRegisterBroker] = saved
			if !errors.Is(err, ErrUnknownRecord) {
				t.Fatalf("version 1 read by a version-0 build: %v, want ErrUnknownRecord", err)
			}
		}
	}
	im := Empty("c", 1)
	var err error
	for i, r := range []Record{with, without} {
		if im, err = im.Apply(int64(i+1), r); err != nil {
			t.Fatal(err)
		}
	}
	if im.Brokers[1].HTTP != "h:9080" || im.Brokers[2].HTTP != "" {
		t.Fatalf("image brokers %+v", im.Brokers)
	}
	snap, err := im.EncodeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	// A broker without one leaves no trace in the snapshot, so snapshots
	// of clusters that never saw the field decode in older builds.
	if bytes.Count(snap, []byte(`"HTTP"`)) != 1 {
		t.Fatalf("snapshot %s: want exactly one HTTP field", snap)
	}
	back, err := DecodeSnapshot(snap, 1)
	if err != nil || back.Brokers[1].HTTP != "h:9080" {
		t.Fatalf("snapshot round trip: %+v, %v", back, err)
	}
}
