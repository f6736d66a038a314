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
