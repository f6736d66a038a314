package controller

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// plainBrokers returns unfenced brokers 0..n-1 without racks.
func plainBrokers(n int) []PlacementBroker {
	bs := make([]PlacementBroker, n)
	for i := range bs {
		bs[i] = PlacementBroker{ID: int32(i)}
	}
	return bs
}

// TestPlaceExact pins small placements. The first two are the examples in
// Kafka's own AdminUtils.assignReplicasToBrokers documentation and tests
// (AdminZkClientTest.testTopicCreationInZK; the rack-alternated example
// including its "partition 6 -> 0,4,2"); the rest are samsa's rules worked
// by hand.
func TestPlaceExact(t *testing.T) {
	t.Parallel()
	kafkaRacks := []PlacementBroker{
		{ID: 0, Rack: "rack1"}, {ID: 1, Rack: "rack3"}, {ID: 2, Rack: "rack3"},
		{ID: 3, Rack: "rack2"}, {ID: 4, Rack: "rack2"}, {ID: 5, Rack: "rack1"},
	}
	for _, tc := range []struct {
		name    string
		brokers []PlacementBroker
		n       int32
		rf      int16
		first   int32
		start   int
		load    map[int32]int
		want    [][]int32
	}{
		{
			// Leaders round-robin; followers at leader+1+shift+j, the
			// shift growing by one after each round of 5.
			name: "kafka rack-unaware", brokers: plainBrokers(5), n: 10, rf: 3,
			want: [][]int32{{0, 1, 2}, {1, 2, 3}, {2, 3, 4}, {3, 4, 0}, {4, 0, 1}, {0, 2, 3}, {1, 3, 4}, {2, 4, 0}, {3, 0, 1}, {4, 1, 2}},
		},
		{
			// Rack-alternated list 0,3,1,5,4,2; every partition on all
			// three racks.
			name: "kafka rack-aware", brokers: kafkaRacks, n: 12, rf: 3,
			want: [][]int32{{0, 3, 1}, {3, 1, 5}, {1, 5, 4}, {5, 4, 2}, {4, 2, 0}, {2, 0, 3}, {0, 4, 2}, {3, 2, 0}, {1, 0, 3}, {5, 3, 1}, {4, 1, 5}, {2, 5, 4}},
		},
		{
			name: "one broker", brokers: []PlacementBroker{{ID: 7}}, n: 3, rf: 1,
			want: [][]int32{{7}, {7}, {7}},
		},
		{
			name: "fenced broker unused", brokers: []PlacementBroker{{ID: 1}, {ID: 2}, {ID: 3, Fenced: true}}, n: 2, rf: 2,
			want: [][]int32{{1, 2}, {2, 1}},
		},
		{
			// A partial round is placed by count: every broker holds two
			// replicas. Kafka's walk gives [1 3 4 5] [2 4 5 0] [3 5 0 1]:
			// brokers 5 and 0 hold three, 2 one.
			name: "partial round balanced", brokers: plainBrokers(6), n: 3, rf: 4, start: 1,
			want: [][]int32{{1, 4, 5, 0}, {2, 3, 4, 5}, {3, 0, 1, 2}},
		},
		{
			// One full round, then the two extra leaders go to the least
			// loaded brokers, 2 and 4.
			name: "leader load", brokers: plainBrokers(5)[1:], n: 6, rf: 1, load: map[int32]int{1: 5, 2: 0, 3: 1, 4: 0},
			want: [][]int32{{1}, {2}, {3}, {4}, {2}, {4}},
		},
		{
			// KRaft: brokers without a rack form the rack "", so broker 3
			// is in every partition.
			name: "some brokers without rack", brokers: []PlacementBroker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3}}, n: 3, rf: 2,
			want: [][]int32{{3, 1}, {1, 3}, {2, 3}},
		},
		{
			// CreatePartitions with the same start goes on with the
			// rotation: partitions 1 and 2 of a 3-broker topic.
			name: "rotation continues", brokers: plainBrokers(3), n: 2, rf: 1, first: 1,
			want: [][]int32{{1}, {2}},
		},
		{
			name: "rotation from start", brokers: plainBrokers(3), n: 3, rf: 2, start: -4,
			want: [][]int32{{2, 0}, {0, 1}, {1, 2}},
		},
		{
			// Rack b's only broker is in every partition; rack a's
			// brokers take turns as followers.
			name: "uneven racks", brokers: []PlacementBroker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "a"}, {ID: 4, Rack: "b"}}, n: 4, rf: 2,
			want: [][]int32{{1, 4}, {4, 1}, {2, 4}, {3, 4}},
		},
		{
			// rf past the number of racks: two replicas in one rack, one
			// in the other, and every broker holds three.
			name: "rf above racks", brokers: []PlacementBroker{{ID: 1, Rack: "a"}, {ID: 2, Rack: "a"}, {ID: 3, Rack: "b"}, {ID: 4, Rack: "b"}}, n: 4, rf: 3,
			want: [][]int32{{1, 3, 2}, {3, 2, 4}, {2, 4, 1}, {4, 1, 3}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Place(tc.brokers, tc.n, tc.rf, tc.first, tc.start, tc.load)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestPlaceErrors(t *testing.T) {
	t.Parallel()
	three := []PlacementBroker{{ID: 1}, {ID: 2}, {ID: 3, Fenced: true}}
	for _, tc := range []struct {
		name    string
		brokers []PlacementBroker
		n       int32
		rf      int16
		code    *kerr.Error
		msg     string
	}{
		{"zero replication factor", three, 1, 0, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 0 time(s): Invalid replication factor 0: the replication factor must be positive."},
		{"negative replication factor first", three, 0, -2, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition -2 time(s): Invalid replication factor -2: the replication factor must be positive."},
		{"zero partitions", three, 0, 1, kerr.InvalidPartitions,
			"Number of partitions was set to an invalid non-positive value."},
		{"negative partitions", three, -1, 1, kerr.InvalidPartitions,
			"Number of partitions was set to an invalid non-positive value."},
		{"too many partitions", three, placeMaxPartitions + 1, 1, kerr.InvalidPartitions,
			"Number of partitions 1048577 is above the limit of 1048576."},
		{"rf above unfenced", three, 1, 3, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 2 broker(s) are registered and unfenced."},
		{"no brokers", nil, 1, 1, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 1 time(s): The target replication factor of 1 cannot be reached because only 0 broker(s) are registered and unfenced."},
		{"all fenced", []PlacementBroker{{ID: 1, Fenced: true}, {ID: 2, Fenced: true}}, 1, 1, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 1 time(s): All brokers are currently fenced."},
		{"broker twice", []PlacementBroker{{ID: 1}, {ID: 1, Rack: "a"}}, 1, 1, kerr.UnknownServerError,
			"placement: broker 1 is listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Place(tc.brokers, tc.n, tc.rf, 0, 0, nil)
			if got != nil || !errors.Is(err, tc.code) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.code)
			}
			var e *Error
			if !errors.As(err, &e) || e.Message != tc.msg {
				t.Fatalf("message %q, want %q", err, tc.msg)
			}
		})
	}
}

// TestPlaceFollowersShift: without racks, over b-1 full rounds with rf 2,
// each broker is followed by every other broker exactly once (Kafka's
// growing shift), whatever the start.
func TestPlaceFollowersShift(t *testing.T) {
	t.Parallel()
	for b := 2; b <= 8; b++ {
		for start := range b {
			out, err := Place(plainBrokers(b), int32(b*(b-1)), 2, 0, start, nil)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[[2]int32]bool{}
			for _, rs := range out {
				seen[[2]int32{rs[0], rs[1]}] = true
			}
			if len(seen) != b*(b-1) {
				t.Errorf("%d brokers, start %d: %d distinct leader-follower pairs, want %d", b, start, len(seen), b*(b-1))
			}
		}
	}
}

// TestPlaceLimit: the largest allowed placement succeeds and stays balanced.
func TestPlaceLimit(t *testing.T) {
	t.Parallel()
	brokers := plainBrokers(7)
	out, err := Place(brokers, placeMaxPartitions, 3, 0, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != placeMaxPartitions {
		t.Fatalf("%d partitions", len(out))
	}
	checkPlacement(t, "limit", brokers, out, 3, nil)
}

// TestPlaceProperties checks every placement rule over random clusters
// (fixed seed: the same cases each run).
func TestPlaceProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 3000 {
		nb := 1 + rng.IntN(16)
		racks := rng.IntN(6) // 0: no racks
		evenRacks := rng.IntN(2) == 0
		brokers := make([]PlacementBroker, nb)
		for i, id := range rng.Perm(100)[:nb] {
			b := PlacementBroker{ID: int32(id), Fenced: rng.IntN(6) == 0}
			if racks > 0 && evenRacks {
				b.Rack = fmt.Sprint("r", i%racks)
			} else if racks > 0 {
				b.Rack = fmt.Sprint("r", rng.IntN(racks))
			}
			brokers[i] = b
		}
		live := 0
		for _, b := range brokers {
			if !b.Fenced {
				live++
			}
		}
		if live == 0 {
			continue
		}
		rf := int16(1 + rng.IntN(min(live, 6)))
		n := int32(1 + rng.IntN(4*live+3))
		first := int32(rng.IntN(50))
		start := rng.IntN(200) - 100
		var load map[int32]int
		if rng.IntN(2) == 0 {
			load = map[int32]int{}
			for _, b := range brokers {
				load[b.ID] = rng.IntN(5)
			}
		}
		name := fmt.Sprintf("case %d: brokers %v n %d rf %d first %d start %d load %v", iter, brokers, n, rf, first, start, load)
		out, err := Place(brokers, n, rf, first, start, load)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out) != int(n) {
			t.Fatalf("%s: %d partitions", name, len(out))
		}
		checkPlacement(t, name, brokers, out, int(rf), load)

		shuffled := slices.Clone(brokers)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, err := Place(shuffled, n, rf, first, start, load)
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("%s: brokers in another order give %v, %v; first %v", name, again, err, out)
		}
	}
}

// checkPlacement checks one placement: rf distinct unfenced brokers per
// partition, leaders within one of each other (extra ones on the least
// loaded), racks used as evenly as their sizes allow, and replica counts
// within the bounds measured for this placer.
func checkPlacement(t *testing.T, name string, brokers []PlacementBroker, out [][]int32, rf int, load map[int32]int) {
	t.Helper()
	rackOf := map[int32]string{}
	rackSize := map[string]int{}
	for _, b := range brokers {
		if !b.Fenced {
			rackOf[b.ID] = b.Rack
			rackSize[b.Rack]++
		}
	}
	leads, holds := map[int32]int{}, map[int32]int{}
	for p, rs := range out {
		if len(rs) != rf {
			t.Fatalf("%s: partition %d has %v", name, p, rs)
		}
		use := map[string]int{}
		for i, r := range rs {
			rack, ok := rackOf[r]
			if !ok {
				t.Fatalf("%s: partition %d has %v: %d is fenced or unknown", name, p, rs, r)
			}
			if slices.Contains(rs[:i], r) {
				t.Fatalf("%s: partition %d has %v: %d twice", name, p, rs, r)
			}
			holds[r]++
			use[rack]++
		}
		if want := min(rf, len(rackSize)); len(use) != want {
			t.Fatalf("%s: partition %d has %v on %d racks, want %d", name, p, rs, len(use), want)
		}
		for a := range rackSize {
			for b := range rackSize {
				if use[a] > use[b]+1 && use[b] < rackSize[b] {
					t.Fatalf("%s: partition %d has %v: %d in rack %q, %d in %q", name, p, rs, use[a], a, use[b], b)
				}
			}
		}
		leads[rs[0]]++
	}
	ids := slices.Sorted(maps.Keys(rackOf))
	lo, hi := countSpread(leads, ids)
	if hi-lo > 1 {
		t.Fatalf("%s: new leaders per broker %v", name, leads)
	}
	if load != nil && hi > lo {
		// Every broker given an extra leader leads no more than any
		// broker not given one.
		for _, x := range ids {
			for _, y := range ids {
				if leads[x] == hi && leads[y] == lo && load[x] > load[y] {
					t.Fatalf("%s: broker %d (load %d) leads %d, broker %d (load %d) %d", name, x, load[x], hi, y, load[y], lo)
				}
			}
		}
	}
	even := true
	for _, size := range rackSize {
		for _, other := range rackSize {
			even = even && size == other
		}
	}
	switch lo, hi := countSpread(holds, ids); {
	case len(rackSize) == 1 && hi-lo > 1:
		t.Fatalf("%s: replicas per broker %v", name, holds)
	case even && hi-lo > 2:
		t.Fatalf("%s: replicas per broker %v (even racks)", name, holds)
	}
	for rack := range rackSize {
		var in []int32
		for _, id := range ids {
			if rackOf[id] == rack {
				in = append(in, id)
			}
		}
		if lo, hi := countSpread(holds, in); hi-lo > 3 {
			t.Fatalf("%s: replicas per broker %v, rack %q", name, holds, rack)
		}
	}
}

func countSpread(counts map[int32]int, ids []int32) (lo, hi int) {
	lo, hi = counts[ids[0]], counts[ids[0]]
	for _, id := range ids {
		lo, hi = min(lo, counts[id]), max(hi, counts[id])
	}
	return lo, hi
}
