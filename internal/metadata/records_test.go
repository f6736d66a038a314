package metadata

import (
	"maps"
	"slices"
	"testing"
)

func TestApplySetBrokerConfig(t *testing.T) {
	t.Parallel()
	one := int32(1)
	steps := []struct {
		rec         SetBrokerConfig
		wantDefault map[string]string
		wantOne     map[string]string
	}{
		{SetBrokerConfig{Configs: map[string]string{"log.retention.ms": "1000"}}, map[string]string{"log.retention.ms": "1000"}, map[string]string{}},
		{SetBrokerConfig{NodeID: &one, Configs: map[string]string{"log.roll.ms": "5"}}, map[string]string{"log.retention.ms": "1000"}, map[string]string{"log.roll.ms": "5"}},
		{SetBrokerConfig{Configs: nil}, map[string]string{}, map[string]string{"log.roll.ms": "5"}},
		{SetBrokerConfig{NodeID: &one, Configs: map[string]string{}}, map[string]string{}, map[string]string{}},
	}
	im := Empty("c", 1)
	for i, s := range steps {
		prev := im
		prevDefault, prevOne := prev.DynamicBrokerConfigs(1)
		prevDefault, prevOne = maps.Clone(prevDefault), maps.Clone(prevOne)
		rec := s.rec
		next, err := im.Apply(int64(i), Record{SetBrokerConfig: &rec})
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		d, o := next.DynamicBrokerConfigs(1)
		if !maps.Equal(d, s.wantDefault) || !maps.Equal(o, s.wantOne) {
			t.Errorf("step %d: default %v, node 1 %v; want %v, %v", i, d, o, s.wantDefault, s.wantOne)
		}
		// The previous image is unchanged (copy on write).
		if d, o := prev.DynamicBrokerConfigs(1); !maps.Equal(d, prevDefault) || !maps.Equal(o, prevOne) {
			t.Errorf("step %d: previous image changed to %v, %v", i, d, o)
		}
		if _, o := next.DynamicBrokerConfigs(2); len(o) != 0 {
			t.Errorf("step %d: node 2 has %v", i, o)
		}
		im = next
	}
	// A record's map is not shared with the image.
	m := map[string]string{"a": "1"}
	next, _ := im.Apply(10, Record{SetBrokerConfig: &SetBrokerConfig{Configs: m}})
	m["a"] = "2"
	if next.DefaultBrokerConfigs["a"] != "1" {
		t.Errorf("image shares the record's map")
	}
	bad := int32(-1)
	if _, err := im.Apply(11, Record{SetBrokerConfig: &SetBrokerConfig{NodeID: &bad}}); err == nil {
		t.Errorf("negative node id accepted")
	}
}

// TestApplyPartitionChangeEpochs: the partition epoch moves on every
// change, the leader epoch only when the leader changes (an ISR-only
// change keeps it, as KRaft's AlterPartition); an empty ISR is refused.
func TestApplyPartitionChangeEpochs(t *testing.T) {
	t.Parallel()
	id := UUID{1}
	im, err := Empty("c", 1).Apply(0, Record{CreateTopic: &CreateTopic{Name: "t", ID: id, Replicas: [][]int32{{1, 2, 3}}}})
	if err != nil {
		t.Fatal(err)
	}
	leader := func(v int32) *int32 { return &v }
	type state struct {
		leader, leaderEpoch, partitionEpoch int32
		isr                                 []int32
	}
	for i, s := range []struct {
		ch   PartitionChange
		want state
	}{
		{PartitionChange{ISR: []int32{1, 2}}, state{1, 0, 1, []int32{1, 2}}},
		{PartitionChange{Leader: leader(2)}, state{2, 1, 2, []int32{1, 2}}},
		{PartitionChange{Leader: leader(2), ISR: []int32{2}}, state{2, 1, 3, []int32{2}}},
		{PartitionChange{Leader: leader(-1)}, state{-1, 2, 4, []int32{2}}},
		{PartitionChange{Leader: leader(3), ISR: []int32{3}}, state{3, 3, 5, []int32{3}}},
	} {
		ch := s.ch
		ch.TopicID = id
		if im, err = im.Apply(int64(i+1), Record{PartitionChange: &ch}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		p := im.Topics["t"].Partitions[0]
		got := state{p.Leader, p.LeaderEpoch, p.PartitionEpoch, p.ISR}
		if got.leader != s.want.leader || got.leaderEpoch != s.want.leaderEpoch || got.partitionEpoch != s.want.partitionEpoch || !slices.Equal(got.isr, s.want.isr) {
			t.Errorf("step %d: %+v, want %+v", i, got, s.want)
		}
	}
	if _, err := im.Apply(9, Record{PartitionChange: &PartitionChange{TopicID: id, ISR: []int32{}}}); err == nil {
		t.Errorf("empty ISR accepted")
	}
}
