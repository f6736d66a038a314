package metadata

import (
	"errors"
	"reflect"
	"testing"
)

func sampleRecords() []Record {
	rack := "r1"
	leader := int32(2)
	no := false
	return []Record{
		{Bootstrap: &Bootstrap{ClusterID: "c1"}},
		{FeatureLevel: &FeatureLevel{Name: MetadataVersionFeature, Level: 2}},
		{RegisterBroker: &RegisterBroker{NodeID: 1, Host: "127.0.0.1", Port: 9092, Rack: &rack, Incarnation: UUID{1}}},
		{RegisterBroker: &RegisterBroker{NodeID: 2, Host: "127.0.0.2", Port: 9092}},
		{BrokerChange: &BrokerChange{NodeID: 1, Epoch: 2, Fenced: &no}},
		{CreateTopic: &CreateTopic{Name: "t", ID: UUID{9}, Replicas: [][]int32{{1, 2}, {2, 1}}, Configs: map[string]string{"a": "b"}}},
		{PartitionChange: &PartitionChange{TopicID: UUID{9}, Partition: 0, Leader: &leader, ISR: []int32{2}}},
		{AddPartitions: &AddPartitions{ID: UUID{9}, Replicas: [][]int32{{1}}}},
		{SetTopicConfig: &SetTopicConfig{ID: UUID{9}, Configs: map[string]string{"x": "y"}}},
		{ProducerIDs: &ProducerIDs{NodeID: 1, First: 0, Size: 1000}},
		{SetBrokerConfig: &SetBrokerConfig{Configs: map[string]string{"k": "v"}}},
	}
}

func TestEntryRoundTrip(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()
	b, err := EncodeEntry(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, recs)
	}
}

func TestApplyClusterRecords(t *testing.T) {
	t.Parallel()
	im := Empty("", 1)
	for i, r := range sampleRecords() {
		next, err := im.Apply(int64(i), r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		im = next
	}
	if im.ClusterID != "c1" || im.Features[MetadataVersionFeature] != 2 {
		t.Fatalf("cluster id %q, features %v", im.ClusterID, im.Features)
	}
	b1, b2 := im.Brokers[1], im.Brokers[2]
	if b1.Epoch != 2 || b1.Fenced || b2.Epoch != 3 || !b2.Fenced {
		t.Fatalf("brokers %+v %+v", b1, b2)
	}
	p := im.Topics["t"].Partitions[0]
	if p.Leader != 2 || p.LeaderEpoch != 1 || p.PartitionEpoch != 1 || !reflect.DeepEqual(p.ISR, []int32{2}) || !reflect.DeepEqual(p.Replicas, []int32{1, 2}) {
		t.Fatalf("partition 0 = %+v", p)
	}
	// A change for an earlier incarnation is a no-op.
	yes := true
	next, err := im.Apply(20, Record{BrokerChange: &BrokerChange{NodeID: 1, Epoch: 1, Fenced: &yes}})
	if err != nil || next.Brokers[1].Fenced {
		t.Fatalf("stale broker change applied: %v %+v", err, next.Brokers[1])
	}
	// A second bootstrap is refused.
	if _, err := im.Apply(21, Record{Bootstrap: &Bootstrap{ClusterID: "other"}}); err == nil {
		t.Fatal("second bootstrap accepted")
	}
	// metadata.version newer than this build: refused.
	if _, err := im.Apply(22, Record{FeatureLevel: &FeatureLevel{Name: MetadataVersionFeature, Level: MaxMetadataVersion + 1}}); err == nil {
		t.Fatal("newer metadata.version accepted")
	}

	snap, err := im.EncodeSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSnapshot(snap, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, im) {
		t.Fatalf("snapshot round trip:\n got %+v\nwant %+v", back, im)
	}
	snap[len(snap)/2] ^= 1
	if _, err := DecodeSnapshot(snap, 1); err == nil {
		t.Fatal("corrupt snapshot accepted")
	}
}

func TestDecodeEntryRefusesUnknown(t *testing.T) {
	t.Parallel()
	b, _ := EncodeEntry([]Record{{Bootstrap: &Bootstrap{ClusterID: "c"}}})
	newer := append([]byte(nil), b...)
	newer[3] = 1 // version of the first record
	if _, err := DecodeEntry(newer); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("newer version: %v", err)
	}
	unknown := append([]byte(nil), b...)
	unknown[2] = 99
	if _, err := DecodeEntry(unknown); !errors.Is(err, ErrUnknownRecord) {
		t.Fatalf("unknown type: %v", err)
	}
	skip := append([]byte(nil), b...)
	skip[2] = 99 | skippable
	if recs, err := DecodeEntry(skip); err != nil || len(recs) != 0 {
		t.Fatalf("skippable unknown type: %v %v", recs, err)
	}
	field := []byte{entryFormat, 1, byte(typeBootstrap), 0}
	js := `{"clusterId":"c","fromTheFuture":1}`
	field = append(append(field, byte(len(js))), js...)
	if _, err := DecodeEntry(field); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// FuzzDecodeEntry: no input panics or over-allocates, and what decodes
// encodes back to an entry that decodes to the same records.
func FuzzDecodeEntry(f *testing.F) {
	b, _ := EncodeEntry(sampleRecords())
	f.Add(b)
	f.Add([]byte{entryFormat, 1, 1, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeEntry(b)
		if err != nil {
			return
		}
		if len(recs) == 0 {
			return // all skipped
		}
		again, err := EncodeEntry(recs)
		if err != nil {
			return // e.g. a record whose payload decoded as JSON null
		}
		back, err := DecodeEntry(again)
		if err != nil || !reflect.DeepEqual(back, recs) {
			t.Fatalf("re-encode: %v\n%+v\n%+v", err, back, recs)
		}
		// Applying never panics.
		im := Empty("", 1)
		for i, r := range recs {
			if next, err := im.Apply(int64(i), r); err == nil {
				im = next
			}
		}
	})
}

// FuzzDecodeSnapshot: no input panics; a decoded snapshot re-encodes.
func FuzzDecodeSnapshot(f *testing.F) {
	im := Empty("", 1)
	for i, r := range sampleRecords() {
		im, _ = im.Apply(int64(i), r)
	}
	snap, _ := im.EncodeSnapshot()
	f.Add(snap)
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeSnapshot(b, 1)
		if err != nil {
			return
		}
		if _, err := img.EncodeSnapshot(); err != nil {
			t.Fatal(err)
		}
	})
}
