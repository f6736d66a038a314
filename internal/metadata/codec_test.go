package metadata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
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
		{RegisterBroker: &RegisterBroker{NodeID: 3, Host: "10.0.0.3", Port: 9093, HTTP: "127.0.0.1:9080",
			Listeners: []Endpoint{{Name: "INTERNAL", Host: "10.0.0.3", Port: 9093}, {Name: "EXTERNAL", Host: "kafka-3.example", Port: 19092}}}},
		{BrokerChange: &BrokerChange{NodeID: 1, Epoch: 2, Fenced: &no}},
		{CreateTopic: &CreateTopic{Name: "t", ID: UUID{9}, Replicas: [][]int32{{1, 2}, {2, 1}}, Configs: map[string]string{"a": "b"}}},
		{PartitionChange: &PartitionChange{TopicID: UUID{9}, Partition: 0, Leader: &leader, ISR: []int32{2}}},
		{PartitionChange: &PartitionChange{TopicID: UUID{9}, Partition: 1, Replicas: []int32{3, 2, 1}, Adding: []int32{3}, Removing: []int32{1}}},
		{AddPartitions: &AddPartitions{ID: UUID{9}, Replicas: [][]int32{{1}}}},
		{SetTopicConfig: &SetTopicConfig{ID: UUID{9}, Configs: map[string]string{"x": "y"}}},
		{ProducerIDs: &ProducerIDs{NodeID: 1, First: 0, Size: 1000}},
		{SetBrokerConfig: &SetBrokerConfig{Configs: map[string]string{"k": "v"}}},
		{UserScramCredential: &UserScramCredential{Name: "alice", Mechanism: ScramSHA256,
			ScramCredential: ScramCredential{Salt: []byte("salt"), StoredKey: []byte{1, 2}, ServerKey: []byte{3, 4}, Iterations: 4096}}},
		{UserScramCredential: &UserScramCredential{Name: "bob", Mechanism: ScramSHA512,
			ScramCredential: ScramCredential{Salt: []byte("s2"), StoredKey: []byte{5}, ServerKey: []byte{6}, Iterations: 8192}}},
		{RemoveUserScramCredential: &RemoveUserScramCredential{Name: "bob", Mechanism: ScramSHA512}},
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
	p1 := im.Topics["t"].Partitions[1]
	if !reflect.DeepEqual(p1.Replicas, []int32{3, 2, 1}) || !reflect.DeepEqual(p1.Adding, []int32{3}) ||
		!reflect.DeepEqual(p1.Removing, []int32{1}) || !reflect.DeepEqual(p1.Target(), []int32{3, 2}) || p1.PartitionEpoch != 1 {
		t.Fatalf("partition 1 = %+v", p1)
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

// TestPartitionChangeReassignment: Adding and Removing go with Replicas —
// a replica change restates them (absent: none), an ISR change keeps
// them — and must name replicas, once.
func TestPartitionChangeReassignment(t *testing.T) {
	t.Parallel()
	im, err := Empty("", 1).Apply(0, Record{CreateTopic: &CreateTopic{Name: "t", ID: UUID{9}, Replicas: [][]int32{{1, 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(c PartitionChange) (Partition, error) {
		t.Helper()
		c.TopicID = UUID{9}
		next, err := im.Apply(im.Offset+1, Record{PartitionChange: &c})
		if err == nil {
			im = next
		}
		return im.Topics["t"].Partitions[0], err
	}
	p, err := apply(PartitionChange{Replicas: []int32{3, 1, 2}, Adding: []int32{3}, Removing: []int32{2}})
	if err != nil || !p.Reassigning() || !reflect.DeepEqual(p.Target(), []int32{3, 1}) {
		t.Fatalf("start: %+v %v", p, err)
	}
	p, err = apply(PartitionChange{ISR: []int32{1, 2, 3}})
	if err != nil || !reflect.DeepEqual(p.Adding, []int32{3}) || !reflect.DeepEqual(p.Removing, []int32{2}) {
		t.Fatalf("an ISR change dropped the reassignment: %+v %v", p, err)
	}
	p, err = apply(PartitionChange{Replicas: []int32{3, 1}, ISR: []int32{1, 3}})
	if err != nil || p.Reassigning() || p.Adding != nil || p.Removing != nil || p.PartitionEpoch != 3 || p.LeaderEpoch != 0 {
		t.Fatalf("complete: %+v %v", p, err)
	}
	for _, bad := range []PartitionChange{
		{Adding: []int32{3}},
		{Replicas: []int32{1, 2}, Adding: []int32{3}},
		{Replicas: []int32{1, 2}, Adding: []int32{1}, Removing: []int32{1}},
		{Replicas: []int32{1, 2}, Removing: []int32{2, 2}},
	} {
		if _, err := apply(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestPartitionChangeVersions: a partition change is encoded at version 0
// unless it carries a reassignment (version 1), so older nodes read every
// record they can; entries and snapshots written before version 1 existed
// still decode.
func TestPartitionChangeVersions(t *testing.T) {
	t.Parallel()
	plain, _ := EncodeEntry([]Record{{PartitionChange: &PartitionChange{TopicID: UUID{9}, ISR: []int32{1}}}})
	re, _ := EncodeEntry([]Record{{PartitionChange: &PartitionChange{TopicID: UUID{9}, Replicas: []int32{2, 1}, Adding: []int32{2}}}})
	if plain[3] != 0 || re[3] != 1 {
		t.Fatalf("versions %d and %d, want 0 and 1", plain[3], re[3])
	}
	// Bytes of a samsa build before reassignment: a partition change
	// setting the replicas, and a snapshot of one topic.
	old := []byte{entryFormat, 1, byte(typePartitionChange), 0}
	js := `{"topicId":[9,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"partition":0,"replicas":[2,1]}`
	old = append(append(old, byte(len(js))), js...)
	recs, err := DecodeEntry(old)
	if err != nil || !reflect.DeepEqual(recs, []Record{{PartitionChange: &PartitionChange{TopicID: UUID{9}, Replicas: []int32{2, 1}}}}) {
		t.Fatalf("old entry: %+v %v", recs, err)
	}
	body := `{"clusterId":"c","offset":3,"brokers":null,"topics":[{"Name":"t","ID":[9,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"Internal":false,` +
		`"Partitions":[{"Index":0,"Leader":1,"LeaderEpoch":0,"PartitionEpoch":0,"Replicas":[1,2],"ISR":[1,2]}],"Configs":{}}],` +
		`"nextProducerId":0,"defaultBrokerConfigs":{},"brokerConfigs":{},"features":{"metadata.version":2}}`
	snap := append(append(append([]byte(nil), snapshotMagic...), snapshotFormat), body...)
	snap = binary.BigEndian.AppendUint32(snap, crc32.Checksum(snap, castagnoli))
	im, err := DecodeSnapshot(snap, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := im.Topics["t"].Partitions[0]; p.Reassigning() || !reflect.DeepEqual(p.Replicas, []int32{1, 2}) {
		t.Fatalf("old snapshot: %+v", p)
	}
	// The same image encodes as it did: no reassignment, no new fields.
	again, err := im.EncodeSnapshot()
	if err != nil || !bytes.Equal(again, snap) {
		t.Fatalf("re-encoded old snapshot differs: %v\n%s\n%s", err, again, snap)
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
	// A version-1 partition change with empty lists, which read as absent.
	pc := `{"topicId":[9,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"partition":0,"replicas":[2,1],"adding":[],"removing":[1],"isr":[]}`
	f.Add(append([]byte{entryFormat, 1, byte(typePartitionChange), 1, byte(len(pc))}, pc...))
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
	// A reassignment naming a replica the partition does not have.
	im, _ = im.Apply(100, Record{PartitionChange: &PartitionChange{TopicID: UUID{9}, Partition: 0, Replicas: []int32{1, 2}, Adding: []int32{2}}})
	bad, _ := im.EncodeSnapshot()
	bad = bytes.Replace(bad[:len(bad)-4], []byte(`"Adding":[2]`), []byte(`"Adding":[7]`), 1)
	f.Add(binary.BigEndian.AppendUint32(bad, crc32.Checksum(bad, castagnoli)))
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
