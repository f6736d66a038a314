package metadata

import (
	"maps"
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
