package group

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"testing"

	"github.com/samsa-kafka/samsa/internal/record"
)

// offsetsView is what a group holds of offsets: committed ones and those
// pending in open transactions, by producer id.
type offsetsView struct {
	committed map[topicPartition]offset
	pending   map[int64]map[topicPartition]offset
}

func viewOf(groups map[string]*group) map[string]offsetsView {
	out := map[string]offsetsView{}
	for id, g := range groups {
		g.mu.Lock()
		v := offsetsView{committed: map[topicPartition]offset{}, pending: map[int64]map[topicPartition]offset{}}
		for t, ps := range g.offsets {
			for p, o := range ps {
				v.committed[topicPartition{t, p}] = o
			}
		}
		for pid, ps := range g.txnOffsets {
			if len(ps) > 0 {
				v.pending[pid] = maps.Clone(ps)
			}
		}
		g.mu.Unlock()
		if len(v.committed) > 0 || len(v.pending) > 0 {
			out[id] = v
		}
	}
	return out
}

func (v offsetsView) String() string {
	return fmt.Sprintf("committed %v pending %v", v.committed, v.pending)
}

// FuzzTxnReplay: whatever sequence of regular and transactional offset
// commits, transaction markers and group deletions a shard goes through,
// the replay of its log (transactional batches, markers, tombstones)
// holds exactly the offsets, committed and pending, of the live shard.
// Each op is 4 bytes: kind, group, partition, value (the offset, and the
// producer id as value%3+1).
func FuzzTxnReplay(f *testing.F) {
	f.Add([]byte{1, 0, 0, 10, 0, 0, 0, 5, 2, 0, 0, 10})
	f.Add([]byte{0, 1, 1, 3, 1, 1, 1, 20, 3, 0, 0, 20, 1, 1, 0, 23, 4, 1, 0, 0, 2, 0, 0, 23})
	f.Add([]byte{1, 2, 0, 40, 0, 2, 0, 41, 2, 0, 0, 40, 1, 0, 1, 31, 1, 1, 1, 31, 2, 0, 0, 31})
	f.Fuzz(fuzzTxnReplayOnce)
}

// fuzzTxnReplayOnce is one run of FuzzTxnReplay.
func fuzzTxnReplayOnce(t *testing.T, ops []byte) {
	c, s, _, ml := newMemCoordinator(t)
	defer c.Close()
	for i := 0; i+4 <= len(ops) && i < 4*64; i += 4 {
		kind, id, part, val := ops[i]%5, string(rune('a'+ops[i+1]%3)), int32(ops[i+2]%2), int64(ops[i+3])
		pid := val%3 + 1
		commit := func(txn *producer) {
			cr := &offsetCommit{group: id, generation: -1, txn: txn, parts: []commitPart{
				{topic: "t", partition: part, o: offset{offset: val, leaderEpoch: -1, metadata: fmt.Sprint(val), commitTime: -1, expireTime: -1}},
			}}
			c.startCommit(cr)(context.Background())
			if cr.parts[0].code != 0 {
				t.Fatalf("op %d: commit code %d", i/4, cr.parts[0].code)
			}
		}
		switch kind {
		case 0:
			commit(nil)
		case 1:
			commit(&producer{id: pid, epoch: 1})
		case 2, 3:
			m := record.Marker{ProducerID: pid, ProducerEpoch: 1, Commit: kind == 2}
			if _, err := ml.AppendAsLeader(0, record.BuildMarker(m), -1); err != nil {
				t.Fatal(err)
			}
			c.CompleteTxn(0, pid, m.Commit)
		case 4:
			c.DeleteGroups([]string{id})
		}
	}
	live := viewOf(s.groups)
	replayed := viewOf(ml.replayAll().groups(c, s))
	if !reflect.DeepEqual(live, replayed) {
		t.Fatalf("live %v\nreplayed %v", live, replayed)
	}
}

// FuzzLoadTxnRecords: whatever key and value bytes a transactional batch
// of __consumer_offsets holds, its replay and its marker's never crash the
// loader, and the loaded groups keep their invariants: a pending offset
// only under a producer that has some, ended by the marker.
func FuzzLoadTxnRecords(f *testing.F) {
	ov := offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "m", commitTime: 1, expireTime: -1})
	f.Add(offsetKey("g", "t", 0), ov, true, false)
	f.Add(offsetKey("g", "t", 0), ov, false, true)
	f.Add(offsetKey("g", "t", 0), []byte(nil), true, true)
	f.Add(groupKey("g"), []byte{0, 3}, false, false)
	f.Add([]byte{0, 1, 0}, []byte{0, 3, 0, 0}, true, true)
	f.Fuzz(func(t *testing.T, key, value []byte, commit, marker bool) {
		c, s, _, ml := newMemCoordinator(t)
		defer c.Close()
		batch, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Key: nonNil(key), Value: value}},
			record.BuildOptions{ProducerID: 5, ProducerEpoch: 1, BaseSequence: -1, Attributes: record.AttrTransactional, BaseTimestamp: 1})
		if err != nil {
			return
		}
		if _, err := ml.AppendAsLeader(0, batch, -1); err != nil {
			t.Fatal(err)
		}
		if marker {
			if _, err := ml.AppendAsLeader(0, record.BuildMarker(record.Marker{ProducerID: 5, ProducerEpoch: 1, Commit: commit}), -1); err != nil {
				t.Fatal(err)
			}
		}
		groups := ml.replayAll().groups(c, s)
		c.activate(s, groups)
		for id, g := range groups {
			g.mu.Lock()
			err := g.invariants()
			for pid, ps := range g.txnOffsets {
				if pid != 5 || len(ps) == 0 || marker {
					err = fmt.Errorf("pending offsets %v of producer %d (marker %v)", ps, pid, marker)
				}
			}
			g.mu.Unlock()
			if err != nil {
				t.Fatalf("loaded group %q: %v", id, err)
			}
		}
		// The marker's end, sent again, changes nothing.
		before := viewOf(groups)
		c.CompleteTxn(0, 5, commit)
		if marker && !reflect.DeepEqual(viewOf(groups), before) {
			t.Fatalf("a repeated marker changed %v into %v", before, viewOf(groups))
		}
	})
}
