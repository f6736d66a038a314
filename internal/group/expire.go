package group

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/coordinator"
	"github.com/samsa-kafka/samsa/internal/record"
)

// scheduleSweepLocked arms the next offset-expiry sweep. Callers hold c.mu.
func (c *Coordinator) scheduleSweepLocked() {
	c.sweep = c.afterFunc(c.cfg.retentionCheck, func() {
		c.expireOffsets()
		c.mu.Lock()
		if !c.closed {
			c.scheduleSweepLocked()
		}
		c.mu.Unlock()
	})
}

// expireOffsets is the offsets.retention.check.interval.ms sweep: it
// writes tombstones for expired offsets and deletes groups left Empty
// without offsets.
func (c *Coordinator) expireOffsets() {
	shards, _, err := c.loadedShards()
	if err != nil {
		return
	}
	now := c.nowMs()
	for _, s := range shards {
		for _, g := range s.groupsOf() {
			g.mu.Lock()
			drop := g.expire(now)
			g.mu.Unlock()
			if drop {
				c.removeGroup(g)
			}
		}
	}
}

// expire removes the group's expired offsets and reports whether the group
// itself is gone (Empty, and every offset expired). Which offsets may
// expire follows KIP-211 and KIP-496:
//   - an Empty group: all, retention.minutes after it became Empty (or after
//     the commit, when the group's records predate the state timestamp);
//   - a group that only stores offsets (no protocol type): each, retention
//     after its commit;
//   - a live consumer group with known subscriptions: offsets of topics no
//     member subscribes to, retention after their commit;
//   - any other live group: none.
//
// An offset committed with an explicit retention (OffsetCommit v2-v4)
// expires at its own expire timestamp instead.
func (g *group) expire(now int64) bool {
	if g.state == stateDead {
		return false
	}
	var base func(o offset) int64
	switch {
	case g.protocolType == "":
		base = func(o offset) int64 { return o.commitTime }
	case g.state == stateEmpty:
		base = func(o offset) int64 {
			if g.stateTime >= 0 {
				return g.stateTime
			}
			return o.commitTime
		}
	case g.state == stateStable && g.protocolType == consumerProtocolType && g.subscribed != nil:
		base = func(o offset) int64 { return o.commitTime }
	default:
		return false
	}
	retention := g.c.cfg.retention.Milliseconds()
	var recs []record.Record
	type tp struct {
		topic string
		part  int32
	}
	var gone []tp
	for t, ps := range g.offsets {
		if g.isSubscribed(t) {
			continue
		}
		for p, o := range ps {
			if tp := (topicPartition{t, p}); g.pendingOffsets[tp] > 0 || g.hasTxnOffset(tp) {
				// Committed again, not yet replicated; or about to be
				// replaced by an open transaction, as Kafka keeps it.
				continue
			}
			expired := now-base(o) >= retention
			if o.expireTime >= 0 {
				expired = now >= o.expireTime
			}
			if expired {
				recs = append(recs, record.Record{Key: offsetKey(g.id, t, p)})
				gone = append(gone, tp{t, p})
			}
		}
	}
	// A group with writes in flight, or with open transactions, is not
	// deleted: a pending commit would outlive its group.
	allGone := len(gone) == g.offsetCount()
	deleteGroup := allGone && g.state == stateEmpty && g.pendingWrites == 0 && len(g.txnOffsets) == 0
	if deleteGroup {
		recs = append(recs, record.Record{Key: groupKey(g.id)})
	}
	if len(recs) == 0 {
		return false
	}
	warn := func(err error) { g.c.log.Warn("cannot write expired offsets", "group", g.id, "err", err) }
	_, err := g.write(recs, func(err error) {
		if !coordinator.Applied(err) {
			warn(err)
			return
		}
		for _, x := range gone {
			g.deleteOffset(x.topic, x.part)
		}
		if len(gone) > 0 {
			g.c.log.Info("expired committed offsets", "group", g.id, "partitions", len(gone))
		}
	})
	if err != nil {
		warn(err)
		return false
	}
	if deleteGroup {
		// Dead at once, as DeleteGroups (see tombstone).
		clear(g.offsets)
		g.c.log.Info("deleted empty group without offsets", "group", g.id)
		g.shutdown(kerr.CoordinatorNotAvailable.Code)
		return true
	}
	return false
}

func (g *group) offsetCount() int {
	n := 0
	for _, ps := range g.offsets {
		n += len(ps)
	}
	return n
}
