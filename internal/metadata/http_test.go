package metadata

import (
	"bytes"
	"errors"
	"fmt"
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

// TestRegisterBrokerListeners: a registration with named listeners is
// encoded at version 2 (a build that reads up to version 1 stops at it),
// and the image answers each listener's endpoint: a broker registered
// without names has one endpoint for every listener, one with names has
// only those.
func TestRegisterBrokerListeners(t *testing.T) {
	named := Record{RegisterBroker: &RegisterBroker{NodeID: 1, Host: "10.0.0.1", Port: 9093, HTTP: "h:9080",
		Listeners: []Endpoint{{Name: "INTERNAL", Host: "10.0.0.1", Port: 9093}, {Name: "EXTERNAL", Host: "b1.example", Port: 19092}}}}
	unnamed := Record{RegisterBroker: &RegisterBroker{NodeID: 2, Host: "10.0.0.2", Port: 9092}}
	b, err := EncodeEntry([]Record{named})
	if err != nil {
		t.Fatal(err)
	}
	if b[3] != 2 {
		t.Fatalf("encoded at version %d, want 2", b[3])
	}
	saved := recordVersions[typeRegisterBroker]
	recordVersions[typeRegisterBroker] = 1
	_, err = DecodeEntry(b)
	recordVersions[typeRegisterBroker] = saved
	if !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("version 2 read by a version-1 build: %v, want ErrUnknownRecord", err)
	}
	im := Empty("c", 1)
	for i, r := range []Record{named, unnamed} {
		if im, err = im.Apply(int64(i+1), r); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := im.EncodeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if im, err = DecodeSnapshot(snap, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		node     int32
		listener string
		want     string
	}{
		{1, "EXTERNAL", "b1.example:19092"},
		{1, "INTERNAL", "10.0.0.1:9093"},
		{1, "", "10.0.0.1:9093"},
		{1, "PLAINTEXT", "none"},
		{2, "EXTERNAL", "10.0.0.2:9092"},
		{2, "", "10.0.0.2:9092"},
	} {
		got := "none"
		if h, p, ok := im.Brokers[c.node].Endpoint(c.listener); ok {
			got = fmt.Sprintf("%s:%d", h, p)
		}
		if got != c.want {
			t.Errorf("broker %d on %q: %s, want %s", c.node, c.listener, got, c.want)
		}
	}
}
