// Package reassign holds what partition reassignment tools compute
// without a cluster: the plan file format of Kafka's
// kafka-reassign-partitions.sh, and a planner that balances replicas and
// preferred leaders over a set of brokers while moving as few replicas as
// it can.
package reassign

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// Partition is one partition's replica list, preferred leader first.
type Partition struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

// File is a reassignment plan as kafka-reassign-partitions.sh reads and
// writes it: {"version":1,"partitions":[...]}.
type File struct {
	Version    int         `json:"version"`
	Partitions []Partition `json:"partitions"`
}

// ParseFile reads a plan, refusing what samsa cannot do or what Kafka's
// tool refuses: another version, no partitions, a partition named twice,
// an empty or repeating replica list, and log_dirs other than "any" (samsa
// has one log directory per broker; KIP-113's moves between directories
// do not exist here) or of another length than the replicas.
func ParseFile(b []byte) (File, error) {
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("reassign: plan: %w", err)
	}
	if f.Version != 1 {
		return File{}, fmt.Errorf("reassign: plan version %d: only version 1 is known", f.Version)
	}
	if len(f.Partitions) == 0 {
		return File{}, errors.New("reassign: plan names no partitions")
	}
	seen := map[string]bool{}
	for _, p := range f.Partitions {
		name := fmt.Sprintf("%s-%d", p.Topic, p.Partition)
		switch {
		case p.Topic == "" || p.Partition < 0:
			return File{}, fmt.Errorf("reassign: plan: invalid partition %q", name)
		case seen[name]:
			return File{}, fmt.Errorf("reassign: plan names %s twice", name)
		case len(p.Replicas) == 0:
			return File{}, fmt.Errorf("reassign: plan: %s has no replicas", name)
		case len(slices.Compact(slices.Sorted(slices.Values(p.Replicas)))) != len(p.Replicas):
			return File{}, fmt.Errorf("reassign: plan: %s names a replica twice: %v", name, p.Replicas)
		case p.LogDirs != nil && len(p.LogDirs) != len(p.Replicas):
			return File{}, fmt.Errorf("reassign: plan: %s has %d log_dirs for %d replicas", name, len(p.LogDirs), len(p.Replicas))
		}
		for _, d := range p.LogDirs {
			if d != "any" {
				return File{}, fmt.Errorf("reassign: plan: %s: log_dirs %q: samsa brokers have one log directory, so only \"any\" is accepted", name, d)
			}
		}
		seen[name] = true
	}
	return f, nil
}

// Encode writes a plan in the tool's format, log_dirs "any" for each replica.
func Encode(ps []Partition) ([]byte, error) {
	f := File{Version: 1, Partitions: make([]Partition, len(ps))}
	for i, p := range ps {
		p.LogDirs = slices.Repeat([]string{"any"}, len(p.Replicas))
		f.Partitions[i] = p
	}
	return json.Marshal(f)
}

// Balance returns the partitions of current whose replicas should change
// for replicas and preferred leaders (first replicas) to be spread evenly
// over brokers, each with its new replica list; partitions it leaves alone
// are not in the answer. It moves as few replicas as it can:
//
//  1. a replica on a broker outside brokers moves to the broker, not
//     already a replica of the partition, holding the fewest replicas;
//  2. while one broker holds two replicas more than another, a replica
//     moves from the fullest to the emptiest broker (of a partition that
//     does not have one there already);
//  3. while one broker is the preferred leader of two partitions more than
//     another, the two swap places in the replica list of a partition they
//     share (no data moves).
//
// A moved replica takes the place of the one it replaces, so a preferred
// leader stays first unless it moves. The answer depends only on the
// arguments (ties go to the lower broker id, partitions are visited by
// topic and number). Racks are not considered.
func Balance(current []Partition, brokers []int32) ([]Partition, error) {
	brokers = slices.Compact(slices.Sorted(slices.Values(brokers)))
	if len(brokers) == 0 {
		return nil, errors.New("reassign: no brokers to place replicas on")
	}
	ps := make([]Partition, len(current))
	for i, p := range current {
		if len(p.Replicas) > len(brokers) {
			return nil, fmt.Errorf("reassign: %s-%d has %d replicas, more than the %d brokers", p.Topic, p.Partition, len(p.Replicas), len(brokers))
		}
		ps[i] = Partition{Topic: p.Topic, Partition: p.Partition, Replicas: slices.Clone(p.Replicas)}
	}
	slices.SortFunc(ps, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	count := map[int32]int{}
	for _, b := range brokers {
		count[b] = 0
	}
	for _, p := range ps {
		for _, r := range p.Replicas {
			if _, ok := count[r]; ok {
				count[r]++
			}
		}
	}
	// emptiest is the broker with the fewest of counts not in exclude.
	emptiest := func(counts map[int32]int, exclude []int32) int32 {
		best := int32(-1)
		for _, b := range brokers {
			if !slices.Contains(exclude, b) && (best < 0 || counts[b] < counts[best]) {
				best = b
			}
		}
		return best
	}
	// 1. Replicas off the brokers.
	for i := range ps {
		for j, r := range ps[i].Replicas {
			if _, ok := count[r]; ok {
				continue
			}
			to := emptiest(count, ps[i].Replicas)
			ps[i].Replicas[j] = to
			count[to]++
		}
	}
	// 2. Replica counts within one of each other.
	for {
		lo := emptiest(count, nil)
		hi := fullest(brokers, count)
		if count[hi]-count[lo] <= 1 || !moveOne(ps, hi, lo) {
			break
		}
		count[hi]--
		count[lo]++
	}
	// 3. Preferred leaders within one of each other.
	leads := map[int32]int{}
	for _, b := range brokers {
		leads[b] = 0
	}
	for _, p := range ps {
		leads[p.Replicas[0]]++
	}
	for moved := true; moved; {
		moved = false
		hi := fullest(brokers, leads)
		// Any broker leading two fewer that shares a partition with hi.
		for _, lo := range sortedBy(brokers, leads) {
			if leads[hi]-leads[lo] <= 1 {
				break
			}
			if swapLeader(ps, hi, lo) {
				leads[hi]--
				leads[lo]++
				moved = true
				break
			}
		}
	}
	var out []Partition
	byName := map[string][]int32{}
	for _, p := range current {
		byName[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = p.Replicas
	}
	for _, p := range ps {
		if !slices.Equal(byName[fmt.Sprintf("%s-%d", p.Topic, p.Partition)], p.Replicas) {
			out = append(out, p)
		}
	}
	return out, nil
}

// fullest is the broker with the most of counts (the lowest id of a tie).
func fullest(brokers []int32, counts map[int32]int) int32 {
	best := brokers[0]
	for _, b := range brokers[1:] {
		if counts[b] > counts[best] {
			best = b
		}
	}
	return best
}

// sortedBy lists brokers by ascending counts, ids breaking ties.
func sortedBy(brokers []int32, counts map[int32]int) []int32 {
	out := slices.Clone(brokers)
	slices.SortStableFunc(out, func(a, b int32) int { return cmp.Compare(counts[a], counts[b]) })
	return out
}

// moveOne moves a replica from broker hi to lo in the first partition that
// has one on hi and none on lo, preferring one where hi is not the
// preferred leader; it reports whether it found one.
func moveOne(ps []Partition, hi, lo int32) bool {
	for _, followerOnly := range []bool{true, false} {
		for i := range ps {
			rs := ps[i].Replicas
			j := slices.Index(rs, hi)
			if j < 0 || slices.Contains(rs, lo) || followerOnly && j == 0 {
				continue
			}
			rs[j] = lo
			return true
		}
	}
	return false
}

// swapLeader makes lo the preferred leader of a partition hi leads and lo
// is a replica of, swapping their places; it reports whether one exists.
func swapLeader(ps []Partition, hi, lo int32) bool {
	for i := range ps {
		rs := ps[i].Replicas
		if rs[0] != hi {
			continue
		}
		if j := slices.Index(rs, lo); j > 0 {
			rs[0], rs[j] = rs[j], rs[0]
			return true
		}
	}
	return false
}

// Counts returns how many replicas, and how many preferred leaderships,
// each broker has in ps (for reports and tests).
func Counts(ps []Partition) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, p := range ps {
		for _, r := range p.Replicas {
			replicas[r]++
		}
		if len(p.Replicas) > 0 {
			leaders[p.Replicas[0]]++
		}
	}
	return replicas, leaders
}

// Apply returns current with the partitions of plan replacing theirs.
func Apply(current, plan []Partition) []Partition {
	byName := map[string]Partition{}
	for _, p := range plan {
		byName[fmt.Sprintf("%s-%d", p.Topic, p.Partition)] = p
	}
	out := slices.Clone(current)
	for i, p := range out {
		if q, ok := byName[fmt.Sprintf("%s-%d", p.Topic, p.Partition)]; ok {
			out[i] = q
		}
	}
	return out
}
