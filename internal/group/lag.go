package group

// Consumer lag, computed by the coordinator for the groups it coordinates
// (what Burrow does from outside a Kafka cluster). A snapshot reads, per
// group and partition, the committed offset from memory, the partition's
// end from its local leader replica (or, through a RemoteLag hook, from the
// leader elsewhere), and the timestamp of the first uncommitted batch from
// the batch header at that offset: an offset-index lookup and one read of
// 61 bytes, never a scan of the log. Snapshots are cached, so scrapes and
// the console's plots share them.

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
)

// PartitionLag is one partition's lag for one group.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset.
	Committed int64
	// End is the partition's high watermark, the end a consumer can read
	// to (-1 when unknown: no leader reachable).
	End int64
	// Lag is End - Committed, at least 0; -1 when End is unknown.
	Lag int64
	// LagSeconds is how long ago the first uncommitted record was
	// written: now minus the timestamp of the batch that holds the
	// committed offset (its base timestamp, or its append time for a
	// LogAppendTime batch). A batch's base timestamp is its first
	// record's, so this is exact when the committed offset starts a batch
	// (consumers commit after whole batches) and otherwise an upper bound
	// by the batch's time span. 0 when the group is caught up; -1 when
	// unknown.
	LagSeconds float64
}

// GroupLag is one group's state and lag.
type GroupLag struct {
	Group        string
	State        string // Kafka's names: Empty, Stable, PreparingRebalance, ...
	ProtocolType string // "consumer" for consumers; "" for a group that only commits offsets
	Members      int
	Partitions   []PartitionLag // sorted by topic, then partition
}

// RemoteLag reads the end (high watermark) of a partition this node does
// not lead, and the timestamp of the batch that holds offset (-1 when it
// has none), from the partition's leader.
type RemoteLag func(ctx context.Context, topic string, partition int32, offset int64) (end, timestamp int64, err error)

// LagMinInterval is how old a cached snapshot may be before LagSnapshot
// computes a new one: scrapes more frequent than this share one.
const LagMinInterval = 2 * time.Second

// remoteLagTimeout bounds the questions a snapshot asks other leaders.
const remoteLagTimeout = 5 * time.Second

type lagCache struct {
	mu     sync.Mutex // held while a snapshot is computed: concurrent callers share it
	at     time.Time
	snap   []GroupLag
	remote RemoteLag
}

// SetRemoteLag sets how the lag of partitions led by other brokers is
// read; without it their End, Lag and LagSeconds are -1.
func (c *Coordinator) SetRemoteLag(fn RemoteLag) {
	c.lag.mu.Lock()
	c.lag.remote = fn
	c.lag.mu.Unlock()
}

// LagSnapshot returns the lag of every group this node coordinates, sorted
// by group id: the cached snapshot when it is younger than LagMinInterval,
// else a new one. The result is shared: callers must not modify it.
func (c *Coordinator) LagSnapshot() []GroupLag {
	c.lag.mu.Lock()
	defer c.lag.mu.Unlock()
	now := c.clock.Now()
	if c.lag.snap != nil && now.Sub(c.lag.at) < LagMinInterval && now.Sub(c.lag.at) >= 0 {
		return c.lag.snap
	}
	return c.sampleLocked(now)
}

// SampleLag computes a new snapshot now and caches it.
func (c *Coordinator) SampleLag() []GroupLag {
	c.lag.mu.Lock()
	defer c.lag.mu.Unlock()
	return c.sampleLocked(c.clock.Now())
}

// RunLagSampler samples every interval until ctx ends, so that the
// snapshot stays fresh for readers that do not ask often (the console's
// plots read it on their own schedule).
func (c *Coordinator) RunLagSampler(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.SampleLag()
		}
	}
}

func (c *Coordinator) sampleLocked(now time.Time) []GroupLag {
	snap := c.computeLag(now, c.lag.remote)
	if snap == nil {
		snap = []GroupLag{}
	}
	c.lag.snap, c.lag.at = snap, now
	return snap
}

// computeLag copies each group's offsets under its lock, then reads the
// partitions with no group lock held.
func (c *Coordinator) computeLag(now time.Time, remote RemoteLag) []GroupLag {
	shards, _, err := c.loadedShards()
	if err != nil {
		return nil
	}
	var out []GroupLag
	for _, s := range shards {
		for _, g := range s.groupsOf() {
			g.mu.Lock()
			if g.state == stateDead {
				g.mu.Unlock()
				continue
			}
			gl := GroupLag{Group: g.id, State: g.state.String(), ProtocolType: g.protocolType, Members: len(g.members)}
			for topic, parts := range g.offsets {
				for idx, o := range parts {
					gl.Partitions = append(gl.Partitions, PartitionLag{Topic: topic, Partition: idx, Committed: o.offset})
				}
			}
			g.mu.Unlock()
			sort.Slice(gl.Partitions, func(i, j int) bool {
				a, b := gl.Partitions[i], gl.Partitions[j]
				return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
			})
			out = append(out, gl)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	var remotes []*PartitionLag
	for gi := range out {
		for pi := range out[gi].Partitions {
			pl := &out[gi].Partitions[pi]
			pl.End, pl.Lag, pl.LagSeconds = -1, -1, -1
			if p := c.reps.Partition(pl.Topic, pl.Partition); p != nil && p.Role() == partition.RoleLeader {
				end := p.HighWatermark()
				ts := int64(-1)
				if pl.Committed < end {
					ts = firstBatchTimestamp(p, max(pl.Committed, p.LogStartOffset()))
				}
				fillLag(pl, end, ts, now)
			} else if remote != nil {
				remotes = append(remotes, pl)
			}
		}
	}
	askRemote(remotes, remote, now)
	return out
}

// remoteLagWorkers bounds the questions to other leaders in flight at once.
const remoteLagWorkers = 8

// askRemote fills the lag of partitions led elsewhere, a few at a time,
// all within remoteLagTimeout: a leader that does not answer leaves its
// partitions unknown rather than holding up the snapshot.
func askRemote(pls []*PartitionLag, remote RemoteLag, now time.Time) {
	if len(pls) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteLagTimeout)
	defer cancel()
	next := make(chan *PartitionLag)
	var wg sync.WaitGroup
	for range min(remoteLagWorkers, len(pls)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pl := range next {
				if end, ts, err := remote(ctx, pl.Topic, pl.Partition, pl.Committed); err == nil {
					fillLag(pl, end, ts, now)
				}
			}
		}()
	}
	for _, pl := range pls {
		next <- pl
	}
	close(next)
	wg.Wait()
}

func fillLag(pl *PartitionLag, end, ts int64, now time.Time) {
	if end < 0 {
		return
	}
	pl.End = end
	pl.Lag = max(end-pl.Committed, 0)
	switch {
	case pl.Lag == 0:
		pl.LagSeconds = 0
	case ts >= 0:
		pl.LagSeconds = max(float64(now.UnixMilli()-ts)/1000, 0)
	}
}

// firstBatchTimestamp is the timestamp of the batch holding offset (see
// PartitionLag.LagSeconds), or -1 when it cannot be read.
func firstBatchTimestamp(p *partition.Partition, offset int64) int64 {
	res, err := p.Read(offset, 1, true, false)
	if err != nil || res.Slice.Len < record.HeaderSize {
		if err == nil {
			res.Slice.Release()
		}
		return -1
	}
	defer res.Slice.Release()
	var buf [record.HeaderSize]byte
	if _, err := res.Slice.File.ReadAt(buf[:], res.Slice.Pos); err != nil {
		return -1
	}
	return BatchTimestamp(buf[:])
}

// BatchTimestamp is the timestamp PartitionLag.LagSeconds counts from for
// the batch whose header b starts with, or -1 when b holds no batch header.
func BatchTimestamp(b []byte) int64 {
	h, err := record.ParseHeader(b)
	if err != nil {
		return -1
	}
	if h.IsLogAppendTime() {
		return h.MaxTimestamp
	}
	return h.BaseTimestamp
}
