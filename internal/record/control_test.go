package record

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestMarkerRoundTrip(t *testing.T) {
	for _, commit := range []bool{false, true} {
		m := Marker{ProducerID: 7, ProducerEpoch: 3, CoordinatorEpoch: 12, Commit: commit, Timestamp: 1700000000000}
		b := BuildMarker(m)
		h, err := ParseHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if !h.IsControl() || !h.IsTransactional() || h.BaseSequence != NoSequence || h.LastOffsetDelta != 0 {
			t.Fatalf("header %+v", h)
		}
		got, err := ParseMarker(b, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got != m {
			t.Fatalf("got %+v, want %+v", got, m)
		}
		// Kafka's own encoding of the key and value, through kmsg.
		_, recs, _ := ReadRecords(b, 1<<20)
		var k kmsg.ControlRecordKey
		if err := k.ReadFrom(recs[0].Key); err != nil {
			t.Fatal(err)
		}
		var v kmsg.EndTxnMarker
		if err := v.ReadFrom(recs[0].Value); err != nil {
			t.Fatal(err)
		}
		wantType := kmsg.ControlRecordKeyTypeAbort
		if commit {
			wantType = kmsg.ControlRecordKeyTypeCommit
		}
		if k.Version != 0 || k.Type != wantType || v.Version != 0 || v.CoordinatorEpoch != 12 {
			t.Fatalf("kmsg reads key %+v value %+v", k, v)
		}
	}
}

func TestParseMarkerRefuses(t *testing.T) {
	data, err := BuildBatch(CodecNone, 0, []Record{{Value: []byte("x")}}, BuildOptions{ProducerID: 1, BaseSequence: 0, Attributes: AttrTransactional})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseMarker(data, 1<<20); !errors.Is(err, ErrNotMarker) {
		t.Fatalf("data batch: %v", err)
	}
	other, _ := BuildBatch(CodecNone, 0, []Record{{Key: []byte{0, 0, 0, 5}, Value: []byte{0, 0, 0, 0, 0, 0}}}, BuildOptions{ProducerID: 1, BaseSequence: NoSequence, Attributes: AttrControl | AttrTransactional})
	if _, err := ParseMarker(other, 1<<20); !errors.Is(err, ErrNotMarker) {
		t.Fatalf("control type 5: %v", err)
	}
}

func FuzzParseMarker(f *testing.F) {
	f.Add(BuildMarker(Marker{ProducerID: 1, Commit: true}))
	f.Add(BuildMarker(Marker{ProducerID: 2, ProducerEpoch: 9, CoordinatorEpoch: -1}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMarker(b, 1<<16)
		if err != nil {
			return
		}
		// What parses re-encodes to a marker that parses the same.
		again, err := ParseMarker(BuildMarker(m), 1<<16)
		if err != nil || again != m {
			t.Fatalf("re-encoded %+v: %+v, %v", m, again, err)
		}
	})
}
