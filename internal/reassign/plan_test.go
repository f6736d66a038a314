package reassign

import (
	"slices"
	"strings"
	"testing"
)

func parts(topic string, lists ...[]int32) []Partition {
	out := make([]Partition, len(lists))
	for i, rs := range lists {
		out[i] = Partition{Topic: topic, Partition: int32(i), Replicas: rs}
	}
	return out
}

// spread is the difference between the most and the fewest of counts over brokers.
func spread(brokers []int32, counts map[int32]int) int {
	lo, hi := counts[brokers[0]], counts[brokers[0]]
	for _, b := range brokers {
		lo, hi = min(lo, counts[b]), max(hi, counts[b])
	}
	return hi - lo
}

// moves counts the replicas plan places on brokers that did not hold them.
func moves(current, plan []Partition) int {
	n := 0
	for _, q := range plan {
		for _, p := range current {
			if p.Topic == q.Topic && p.Partition == q.Partition {
				for _, r := range q.Replicas {
					if !slices.Contains(p.Replicas, r) {
						n++
					}
				}
			}
		}
	}
	return n
}

// TestBalance: the planner evens out replicas and preferred leaders within
// one per broker, moving the fewest replicas that takes: none when already
// balanced, the surplus when a broker joins, every replica of a broker
// that leaves.
func TestBalance(t *testing.T) {
	t.Parallel()
	balanced := parts("t", []int32{1, 2}, []int32{2, 3}, []int32{3, 1}, []int32{1, 3}, []int32{2, 1}, []int32{3, 2})
	for _, tc := range []struct {
		name    string
		current []Partition
		brokers []int32
		moves   int
	}{
		{"balanced", balanced, []int32{1, 2, 3}, 0},
		{"a broker joins", balanced, []int32{1, 2, 3, 4}, 3},
		{"a broker leaves", balanced, []int32{1, 2}, 4},
		{"all on one", parts("t", []int32{1}, []int32{1}, []int32{1}, []int32{1}), []int32{1, 2, 3, 4}, 3},
		{"leaders only", parts("t", []int32{1, 2}, []int32{1, 2}, []int32{2, 1}, []int32{1, 2}), []int32{1, 2}, 0},
	} {
		plan, err := Balance(tc.current, tc.brokers)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := moves(tc.current, plan); got != tc.moves {
			t.Errorf("%s: %d replicas moved, want %d: %v", tc.name, got, tc.moves, plan)
		}
		after := Apply(tc.current, plan)
		replicas, leaders := Counts(after)
		if spread(tc.brokers, replicas) > 1 || spread(tc.brokers, leaders) > 1 {
			t.Errorf("%s: replicas %v leaders %v after %v", tc.name, replicas, leaders, after)
		}
		for _, p := range after {
			for _, r := range p.Replicas {
				if !slices.Contains(tc.brokers, r) {
					t.Errorf("%s: %s-%d on broker %d", tc.name, p.Topic, p.Partition, r)
				}
			}
			if len(slices.Compact(slices.Sorted(slices.Values(p.Replicas)))) != len(p.Replicas) {
				t.Errorf("%s: %s-%d replicas %v repeat", tc.name, p.Topic, p.Partition, p.Replicas)
			}
		}
		again, _ := Balance(after, tc.brokers)
		if len(again) != 0 {
			t.Errorf("%s: a balanced plan plans again: %v", tc.name, again)
		}
	}
	if _, err := Balance(parts("t", []int32{1, 2, 3}), []int32{1, 2}); err == nil {
		t.Error("three replicas on two brokers planned")
	}
}

// TestParseFile: the kafka-reassign-partitions.sh format, log_dirs "any"
// only, and the tool's refusals.
func TestParseFile(t *testing.T) {
	t.Parallel()
	f, err := ParseFile([]byte(`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[3,1],"log_dirs":["any","any"]},{"topic":"a","partition":1,"replicas":[2]}]}`))
	if err != nil || len(f.Partitions) != 2 || !slices.Equal(f.Partitions[0].Replicas, []int32{3, 1}) {
		t.Fatalf("%+v %v", f, err)
	}
	for _, bad := range []struct{ json, want string }{
		{`{"version":2,"partitions":[{"topic":"a","partition":0,"replicas":[1]}]}`, "version 2"},
		{`{"version":1,"partitions":[]}`, "no partitions"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}`, "twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[]}]}`, "no replicas"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}`, "a-0 twice"},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1],"log_dirs":["/data"]}]}`, `only "any"`},
		{`{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}`, "1 log_dirs for 2"},
		{`{"version":1,"partitions":[{"topic":"","partition":0,"replicas":[1]}]}`, "invalid partition"},
		{`not json`, "plan:"},
	} {
		if _, err := ParseFile([]byte(bad.json)); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error with %q", bad.json, err, bad.want)
		}
	}
	b, err := Encode([]Partition{{Topic: "a", Partition: 0, Replicas: []int32{1, 2}}})
	if want := `{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`; err != nil || string(b) != want {
		t.Errorf("encode: %s %v, want %s", b, err, want)
	}
}
