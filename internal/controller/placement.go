package controller

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// Replica placement for new partitions. It follows Apache Kafka's
// AdminUtils.assignReplicasToBrokers: the rack-alternated broker list, leaders
// dealt round-robin along it, followers found by a walk from the leader whose
// shift grows each round, so the followers of one broker change from round
// to round. Racks follow KRaft's StripedReplicaPlacer (Kafka 4.x): brokers
// without a rack form one rack of their own, so a cluster where only some
// brokers have a rack is placed, not refused as AdminUtils did
// ("Not all brokers have rack information"). The differences:
//
//   - Only unfenced brokers take new replicas. KRaft lets fenced brokers be
//     followers once the unfenced ones are used up; samsa refuses instead.
//   - The last round, when n is not a multiple of the broker count, is placed
//     by count: its leaders are the least-loaded brokers (leaderLoad), and each
//     follower goes to a broker holding the fewest of the new replicas. There
//     Kafka's walk leaves up to rf-1 replicas of imbalance.
//   - When racks differ in size, the walk only picks the rack and the rack's
//     brokers take turns. Kafka's walk keeps hitting one broker of a big rack
//     (the rack-alternated list puts a big rack's extra brokers side by side).
//   - A follower always goes to a rack holding the fewest replicas of its
//     partition (among racks with a broker left), so a partition spans
//     min(rf, racks) racks and is spread over them as evenly as their sizes
//     allow. Kafka's rule is the same up to rf = racks; past it Kafka stops
//     caring about racks.
//
// Measured over many random inputs (placement_test.go): replica counts per
// broker differ by at most 1 without racks and 2 with equal racks; with
// unequal racks the rack goal wins (a rack of one broker gets a replica of
// nearly every partition) and brokers within a rack differ by at most 3.

// PlacementBroker is what placement knows of a broker.
type PlacementBroker struct {
	ID     int32
	Rack   string // "" when the broker has no rack
	Fenced bool
}

// placeMaxPartitions bounds one placement; its answer holds n*rf int32s and
// rf is at most the number of brokers.
const placeMaxPartitions = 1 << 20

// Place returns the replica lists (leader first) for n new partitions
// numbered from first, with rf replicas each, over the unfenced brokers.
// start picks the rotation (clusterPlacement says what the controller
// passes; tests pass fixed values); leaderLoad, when non-nil,
// is the number of partitions each broker already leads, so new leaders go
// preferably to the least-loaded brokers.
//
// Each unfenced broker leads floor(n/b) or ceil(n/b) of the new partitions
// (b unfenced brokers); leaderLoad only decides which brokers lead the extra
// n%b. Partition first+i is led by the (start+first+i)%b-th broker of the
// rack-alternated list in its full rounds, so a caller that passes the same
// start when it adds partitions continues the rotation, as Kafka's
// CreatePartitions does. The answer depends only on the arguments, not on the
// order of brokers. Errors are *Error with Kafka's code and, where KRaft has
// one, its message.
func Place(brokers []PlacementBroker, n int32, rf int16, first int32, start int, leaderLoad map[int32]int) ([][]int32, error) {
	// KRaft's CreateTopics checks the replication factor first, then the
	// partition count, then asks the placer.
	if rf <= 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): Invalid replication factor %d: the replication factor must be positive.", rf, rf)
	}
	if n <= 0 {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
	}
	if n > placeMaxPartitions {
		return nil, errorf(kerr.InvalidPartitions, "Number of partitions %d is above the limit of %d.", n, placeMaxPartitions)
	}
	p, err := newPlacer(brokers)
	if err != nil {
		return nil, err
	}
	if len(p.list) == 0 && len(brokers) > 0 {
		return nil, errorf(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): All brokers are currently fenced.", rf)
	}
	if int(rf) > len(p.list) {
		return nil, errorf(kerr.InvalidReplicationFactor, "Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered and unfenced.", rf, rf, len(p.list))
	}
	return p.place(int(n), int(rf), int(first), start, leaderLoad), nil
}

// placer holds one placement's state. Brokers are named by their index in
// list.
type placer struct {
	list      []int32 // unfenced broker ids, rack-alternated
	rackOf    []int   // rack of each broker
	racks     [][]int // each rack's brokers
	evenRacks bool    // all racks have the same number of brokers
	maxRack   int     // brokers in the largest rack
	posInRack []int   // index of each broker in its rack
	rackNext  []int   // per rack, where its turn-taking resumes (uneven racks)

	count     []int // new replicas per broker; a round's leaders are counted when it starts
	rackMin   []int // per rack, the lowest count
	rackAtMin []int // per rack, brokers at rackMin

	// The partition being placed.
	in      []bool // broker holds one of its replicas
	rackUse []int  // its replicas per rack
	level   int    // fewest replicas in a rack that has a broker left
	atLevel int    // racks at level with a broker left

	// The last, partial round: brokers leading a partition later in it, and
	// per rack. A partition cannot take its own leader (nor, while racks are
	// unused, a broker of its leader's rack), so those are filled first.
	leadsLater     []bool
	rackLeadsLater []int
}

func newPlacer(brokers []PlacementBroker) (*placer, error) {
	live := make([]PlacementBroker, 0, len(brokers))
	seen := make(map[int32]bool, len(brokers))
	for _, b := range brokers {
		if seen[b.ID] {
			return nil, errorf(kerr.UnknownServerError, "placement: broker %d is listed twice", b.ID)
		}
		seen[b.ID] = true
		if !b.Fenced {
			live = append(live, b)
		}
	}
	// Racks sorted by name ("" first), brokers by id within a rack; then one
	// broker from each rack in turn: AdminUtils.getRackAlternatedBrokerList.
	slices.SortFunc(live, func(a, b PlacementBroker) int {
		return cmp.Or(cmp.Compare(a.Rack, b.Rack), cmp.Compare(a.ID, b.ID))
	})
	var byRack [][]int32
	for i, b := range live {
		if i == 0 || b.Rack != live[i-1].Rack {
			byRack = append(byRack, nil)
		}
		byRack[len(byRack)-1] = append(byRack[len(byRack)-1], b.ID)
	}
	p := &placer{
		list:           make([]int32, 0, len(live)),
		rackOf:         make([]int, 0, len(live)),
		racks:          make([][]int, len(byRack)),
		evenRacks:      true,
		count:          make([]int, len(live)),
		in:             make([]bool, len(live)),
		rackUse:        make([]int, len(byRack)),
		rackMin:        make([]int, len(byRack)),
		rackNext:       make([]int, len(byRack)),
		rackAtMin:      make([]int, len(byRack)),
		leadsLater:     make([]bool, len(live)),
		rackLeadsLater: make([]int, len(byRack)),
	}
	for depth := 0; len(p.list) < len(live); depth++ {
		for r, ids := range byRack {
			if depth < len(ids) {
				p.posInRack = append(p.posInRack, len(p.racks[r]))
				p.racks[r] = append(p.racks[r], len(p.list))
				p.list = append(p.list, ids[depth])
				p.rackOf = append(p.rackOf, r)
			}
		}
	}
	for i, r := range p.racks {
		p.rackAtMin[i] = len(r)
		p.evenRacks = p.evenRacks && len(r) == len(p.racks[0])
		p.maxRack = max(p.maxRack, len(r))
	}
	return p, nil
}

func (p *placer) place(n, rf, first, start int, leaderLoad map[int32]int) [][]int32 {
	b := len(p.list)
	o := placeMod(placeMod(start, b)+first, b) // leader of the first new partition
	full := n / b
	// The partial round's leaders: the n%b brokers leading least (ties in
	// rotation order), in rotation order. Without loads these are the next
	// in rotation, as in Kafka.
	extra := make([]int, b)
	for i := range extra {
		extra[i] = placeMod(o+i, b)
	}
	if leaderLoad != nil {
		slices.SortStableFunc(extra, func(x, y int) int {
			return cmp.Compare(leaderLoad[p.list[x]], leaderLoad[p.list[y]])
		})
		extra = extra[:n%b]
		slices.SortFunc(extra, func(x, y int) int { return cmp.Compare(placeMod(x-o, b), placeMod(y-o, b)) })
	}
	extra = extra[:n%b]
	leader := func(i int) int {
		if i < full*b {
			return placeMod(o+i, b)
		}
		return extra[i-full*b]
	}

	out := make([][]int32, n)
	flat := make([]int32, n*rf)
	picked := make([]int, rf)
	for round := 0; round*b < n; round++ {
		lo, hi := round*b, min(n, (round+1)*b)
		partial := hi-lo < b
		for i := lo; i < hi; i++ {
			f := leader(i)
			p.bump(f)
			if partial {
				p.leadsLater[f] = true
				p.rackLeadsLater[p.rackOf[f]]++
			}
		}
		// Kafka's shift: it grows by one each round and is scaled by the
		// number of racks, so the walk from a leader starts in the next
		// rack. Rounds count from this call's first partition, so a round's
		// walks stay a permutation of the brokers.
		shift := 0
		if b > 1 {
			shift = placeMod(placeMod(start, b-1)+placeMod(first/b+round, b-1), b-1) * len(p.racks) % (b - 1)
		}
		for i := lo; i < hi; i++ {
			f := leader(i)
			if partial {
				p.leadsLater[f] = false
				p.rackLeadsLater[p.rackOf[f]]--
			}
			p.level, p.atLevel = 0, len(p.racks)
			p.add(f)
			picked[0] = f
			k, level := 0, p.level
			for j := 1; j < rf; j++ {
				var c int
				if partial {
					c = p.pickByCount(f, shift)
				} else {
					c, k = p.pickByWalk(f, shift, k)
				}
				p.add(c)
				if p.level != level && len(p.racks) > 1 {
					// Racks skipped for holding more than the old level
					// may be open now.
					k, level = 0, p.level
				}
				p.bump(c)
				picked[j] = c
			}
			rs := flat[i*rf : (i+1)*rf : (i+1)*rf]
			for j, c := range picked {
				rs[j] = p.list[c]
				p.in[c] = false
				p.rackUse[p.rackOf[c]] = 0
			}
			out[i] = rs
		}
	}
	return out
}

// add puts broker c into the partition being placed.
func (p *placer) add(c int) {
	p.in[c] = true
	r := p.rackOf[c]
	if p.rackUse[r] == p.level {
		p.atLevel--
	}
	p.rackUse[r]++
	if p.atLevel > 0 {
		return
	}
	// Every rack at this level is used or full: move to the next level
	// with a free broker. Each move costs O(racks) and comes after at least
	// as many replicas, so O(rf) per partition; a partition on every
	// broker stops at the largest rack's size.
	for p.atLevel == 0 && p.level < p.maxRack {
		p.level++
		for r, use := range p.rackUse {
			if use == p.level && use < len(p.racks[r]) {
				p.atLevel++
			}
		}
	}
}

// bump counts a new replica on broker c.
func (p *placer) bump(c int) {
	r := p.rackOf[c]
	if p.count[c] == p.rackMin[r] {
		p.rackAtMin[r]--
	}
	p.count[c]++
	if p.rackAtMin[r] > 0 {
		return
	}
	p.rackMin[r]++
	for _, x := range p.racks[r] {
		if p.count[x] == p.rackMin[r] {
			p.rackAtMin[r]++
		}
	}
}

// open reports whether broker c may take the next replica: it is not in the
// partition and its rack holds the fewest of the partition's replicas.
func (p *placer) open(c int) bool {
	return !p.in[c] && p.rackUse[p.rackOf[c]] == p.level
}

// walk is the k-th broker (k < b-1) of Kafka's follower walk from leader f:
// every broker but f, once, starting 1+shift after it.
func (p *placer) walk(f, shift, k int) int {
	b := len(p.list)
	return (f + 1 + (shift+k)%(b-1)) % b
}

// pickByWalk returns the next follower in a full round: the first open
// broker of Kafka's walk from leader f. When racks differ in size the walk
// only names the rack, and its brokers take turns: the first open one from
// where the rack's last turn ended that holds the fewest new replicas. It
// also returns where the walk stopped: the brokers before it stay closed
// until the level changes, so the next pick may start there.
func (p *placer) pickByWalk(f, shift, k int) (int, int) {
	for !p.open(p.walk(f, shift, k)) {
		k++
	}
	c := p.walk(f, shift, k)
	if p.evenRacks {
		return c, k
	}
	r := p.rackOf[c]
	rack := p.racks[r]
	best := -1
	for i := range rack {
		x := rack[(p.rackNext[r]+i)%len(rack)]
		if !p.open(x) {
			continue
		}
		if best < 0 || p.count[x] < p.count[best] {
			best = x
		}
		if p.count[best] == p.rackMin[r] {
			break
		}
	}
	p.rackNext[r] = (p.posInRack[best] + 1) % len(rack)
	return best, k
}

// pickByCount returns the next follower in the partial round: in a rack
// holding the fewest of the partition's replicas, the broker holding the
// fewest new replicas; among those, one that later partitions of the round
// can't take, then the first in the walk.
func (p *placer) pickByCount(f, shift int) int {
	b := len(p.list)
	best, bestCount, bestLater := -1, 0, 0
	for k := range b - 1 {
		c := p.walk(f, shift, k)
		if !p.open(c) {
			continue
		}
		later := p.rackLeadsLater[p.rackOf[c]]
		if len(p.racks) == 1 {
			later = 0 // no rack constraint: all later partitions are alike
		}
		if p.leadsLater[c] {
			later++
		}
		if best < 0 || p.count[c] < bestCount || p.count[c] == bestCount && later > bestLater {
			best, bestCount, bestLater = c, p.count[c], later
		}
	}
	return best
}

// clusterPlacement is how the controller calls Place: over which brokers,
// from which start, against which load. Kafka's KRaft controller begins each
// placement at a random rack and broker (StripedReplicaPlacer's RackList and
// BrokerList offsets), its older AdminUtils at a random broker, so a topic's
// partition 0 lands anywhere and leaders balance only on average. samsa
// decides deterministically, so that tests and operators can predict it,
// and balances leaders on purpose:
//
//   - The brokers are the registered ones not in a controlled shutdown,
//     fenced ones marked so (Place skips them): KRaft's usableBrokers
//     (BrokerHeartbeatManager.UsableBrokerIterator) leaves out shutting-down
//     brokers the same way. A broker's rack is broker.rack; brokers without
//     one form a rack of their own, as in KRaft.
//   - A new topic's rotation starts at the broker whose position in the
//     rack-alternated list is the number of topics the cluster has, so the
//     partition 0s (and the follower patterns) of successive topics fall on
//     successive brokers even when every topic has a multiple of the broker
//     count of partitions.
//   - leaderLoad is how many partitions each broker is the preferred leader
//     (first replica) of, so the leaders of a partial round (n not a
//     multiple of the broker count: every one-partition topic) go to the
//     brokers leading least; preferred leaderships per broker then never
//     differ by more than one when they did not before, and deletions and a
//     broker that joins are evened out by later topics. The preferred
//     leader, not the current one: it is where leadership belongs, and it
//     does not move when a broker restarts.
//   - CreatePartitions continues the topic's rotation from its partition 0's
//     preferred leader, as Kafka's AdminZkClient.createPartitions did (from
//     the list's start when that broker cannot take replicas now).
//
// One decision (a CreateTopics request of several topics) counts what it
// places before it places the next topic, so the topics of one request are
// spread as those of successive requests are.
type clusterPlacement struct {
	brokers []PlacementBroker
	leads   map[int32]int // preferred leaderships per broker id
	topics  int           // topics in the cluster, the decision's included
}

func newClusterPlacement(img *metadata.Image) *clusterPlacement {
	p := &clusterPlacement{leads: map[int32]int{}, topics: len(img.Topics)}
	for id, b := range img.Brokers {
		if b.ShuttingDown {
			continue
		}
		pb := PlacementBroker{ID: id, Fenced: b.Fenced}
		if b.Rack != nil {
			pb.Rack = *b.Rack
		}
		p.brokers = append(p.brokers, pb)
	}
	for _, t := range img.Topics {
		for _, part := range t.Partitions {
			if len(part.Replicas) > 0 {
				p.leads[part.Replicas[0]]++
			}
		}
	}
	return p
}

// placeTopic places a new topic's n partitions of rf replicas each.
func (p *clusterPlacement) placeTopic(n int32, rf int16) ([][]int32, error) {
	return Place(p.brokers, n, rf, 0, p.topics, p.leads)
}

// placeMore places n partitions added to t.
func (p *clusterPlacement) placeMore(t *metadata.Topic, n int32) ([][]int32, error) {
	rs := t.Partitions[0].Replicas
	start := 0
	if pr, err := newPlacer(p.brokers); err == nil && len(rs) > 0 {
		start = max(0, slices.Index(pr.list, rs[0]))
	}
	return Place(p.brokers, n, int16(len(rs)), int32(len(t.Partitions)), start, p.leads)
}

// add counts a topic the decision creates (placed or given explicitly).
func (p *clusterPlacement) add(replicas [][]int32) {
	for _, rs := range replicas {
		if len(rs) > 0 {
			p.leads[rs[0]]++
		}
	}
	p.topics++
}

// placeMod is a mod b in [0, b).
func placeMod(a, b int) int {
	a %= b
	if a < 0 {
		a += b
	}
	return a
}
