package replication

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/log"
)

func tpOf(topic string, p int32) log.TopicPartition {
	return log.TopicPartition{Topic: topic, Partition: p}
}

// TestFollowerSession walks a follower's session through its life: a full
// fetch, incremental fetches that carry only what changed, partitions
// added and forgotten, and a full fetch again after each kind of error.
func TestFollowerSession(t *testing.T) {
	t.Parallel()
	a0, a1, b0 := tpOf("a", 0), tpOf("a", 1), tpOf("b", 0)
	st := func(off int64) partFetchState {
		return partFetchState{TopicID: [16]byte{1}, FetchOffset: off, CurrentEpoch: 3, LastFetchedEpoch: 3, MaxBytes: 100}
	}
	var s followerSession
	type want struct {
		id, epoch    int32
		full         bool
		send, forget []log.TopicPartition
	}
	check := func(step string, sf *sessionFetch, w want) {
		t.Helper()
		if sf.SessionID != w.id || sf.SessionEpoch != w.epoch || sf.Full != w.full ||
			!slices.Equal(sf.Send, w.send) || !slices.Equal(sf.Forget, w.forget) {
			t.Fatalf("%s: fetch session %d epoch %d full %v send %v forget %v; want %+v",
				step, sf.SessionID, sf.SessionEpoch, sf.Full, sf.Send, sf.Forget, w)
		}
	}
	parts := map[log.TopicPartition]partFetchState{a0: st(0), a1: st(5), b0: st(7)}

	sf := s.build(parts)
	check("first", sf, want{0, 0, true, []log.TopicPartition{a0, a1, b0}, nil})
	s.answered(sf, 0, 77)

	sf = s.build(parts)
	check("nothing changed", sf, want{77, 1, false, nil, nil})
	s.answered(sf, 0, 77)

	parts[a1] = st(9) // a1 got records
	sf = s.build(parts)
	check("a1 moved", sf, want{77, 2, false, []log.TopicPartition{a1}, nil})
	s.answered(sf, 0, 77)

	delete(parts, a0) // backed off or removed
	parts[a1] = partFetchState{TopicID: [16]byte{1}, FetchOffset: 9, LogStartOffset: 4, CurrentEpoch: 3, LastFetchedEpoch: 3, MaxBytes: 100}
	sf = s.build(parts)
	check("a0 forgotten, a1's log start", sf, want{77, 3, false, []log.TopicPartition{a1}, []log.TopicPartition{a0}})
	if sf.forgetIDs["a"] != [16]byte{1} {
		t.Fatalf("forgotten topic id %v", sf.forgetIDs["a"])
	}
	// Not answered (the network failed): the next fetch is full, and
	// closes session 77 by naming it.
	s.failed()
	sf = s.build(parts)
	check("after a network error", sf, want{77, 0, true, []log.TopicPartition{a1, b0}, nil})
	s.answered(sf, 0, 78)

	parts[a0] = st(0) // back
	sf = s.build(parts)
	check("a0 added back", sf, want{78, 1, false, []log.TopicPartition{a0}, nil})
	s.answered(sf, kerr.InvalidFetchSessionEpoch.Code, 0)

	sf = s.build(parts)
	check("after INVALID_FETCH_SESSION_EPOCH", sf, want{0, 0, true, []log.TopicPartition{a0, a1, b0}, nil})
	s.answered(sf, 0, 79)
	sf = s.build(parts)
	check("new session", sf, want{79, 1, false, nil, nil})
	s.answered(sf, kerr.FetchSessionIDNotFound.Code, 0)
	sf = s.build(parts)
	check("after FETCH_SESSION_ID_NOT_FOUND", sf, want{0, 0, true, []log.TopicPartition{a0, a1, b0}, nil})

	// A leader with no room for a session answers id 0: full fetches on.
	s.answered(sf, 0, 0)
	sf = s.build(parts)
	check("no session given", sf, want{0, 0, true, []log.TopicPartition{a0, a1, b0}, nil})
	s.answered(sf, 0, 80)

	// Another top-level error: a full fetch that closes the session.
	sf = s.build(parts)
	s.answered(sf, kerr.UnknownServerError.Code, 0)
	sf = s.build(parts)
	check("after another error", sf, want{80, 0, true, []log.TopicPartition{a0, a1, b0}, nil})

	// The epoch wraps to 1, never to the full-fetch markers 0 and -1.
	if got := nextSessionEpoch(1<<31 - 1); got != 1 {
		t.Fatalf("epoch after the largest: %d", got)
	}
}

// TestBuildFetchRequest: the follower's Fetch carries its id and broker
// epoch and names topics so that each version the client may negotiate
// reads right: v12 by name with the replica id at the top, v13+ by topic
// id, v15+ with ReplicaState (the top-level replica id is gone).
func TestBuildFetchRequest(t *testing.T) {
	t.Parallel()
	idA, idB := [16]byte{0xa}, [16]byte{0xb}
	a0, a1, b0 := tpOf("a", 0), tpOf("a", 1), tpOf("b", 0)
	sf := &sessionFetch{SessionID: 77, SessionEpoch: 4, Send: []log.TopicPartition{a1, b0}, Forget: []log.TopicPartition{a0},
		want: map[log.TopicPartition]partFetchState{
			a1: {TopicID: idA, FetchOffset: 10, LogStartOffset: 2, CurrentEpoch: 5, LastFetchedEpoch: 4, MaxBytes: 1000},
			b0: {TopicID: idB, FetchOffset: 3, LogStartOffset: 0, CurrentEpoch: 1, LastFetchedEpoch: -1, MaxBytes: 1000},
		},
		forgetIDs: map[string][16]byte{"a": idA}}
	cfg := FetchConfig{MaxWait: 500 * time.Millisecond, MinBytes: 1, ResponseMaxBytes: 1 << 20}
	req := buildFetchRequest(sf, 2, 42, cfg)
	if req.Version != maxFetchVersion || maxFetchVersion != 16 {
		t.Fatalf("request version %d, max %d", req.Version, maxFetchVersion)
	}
	for v := int16(12); v <= maxFetchVersion; v++ {
		r := *req
		r.Version = v
		got := kmsg.NewPtrFetchRequest()
		got.Version = v
		if err := got.ReadFrom(r.AppendTo(nil)); err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		// (kmsg writes ReplicaState as a tag before v15 too, where a
		// leader does not read it.)
		if v < 15 && got.ReplicaID != 2 || v >= 15 && (got.ReplicaID != -1 || got.ReplicaState.ID != 2 || got.ReplicaState.Epoch != 42) {
			t.Fatalf("v%d: replica id %d, state %+v", v, got.ReplicaID, got.ReplicaState)
		}
		if got.SessionID != 77 || got.SessionEpoch != 4 || got.MaxWaitMillis != 500 || got.MinBytes != 1 || got.MaxBytes != 1<<20 {
			t.Fatalf("v%d: session %d/%d, wait %d min %d max %d", v, got.SessionID, got.SessionEpoch, got.MaxWaitMillis, got.MinBytes, got.MaxBytes)
		}
		type topic struct {
			name string
			id   [16]byte
		}
		name := func(n string, id [16]byte) topic {
			if v >= 13 {
				return topic{id: id}
			}
			return topic{name: n}
		}
		if len(got.Topics) != 2 || (topic{got.Topics[0].Topic, got.Topics[0].TopicID}) != name("a", idA) ||
			(topic{got.Topics[1].Topic, got.Topics[1].TopicID}) != name("b", idB) {
			t.Fatalf("v%d: topics %+v", v, got.Topics)
		}
		p := got.Topics[0].Partitions
		if len(p) != 1 || p[0].Partition != 1 || p[0].FetchOffset != 10 || p[0].LogStartOffset != 2 || p[0].CurrentLeaderEpoch != 5 ||
			p[0].LastFetchedEpoch != 4 || p[0].PartitionMaxBytes != 1000 {
			t.Fatalf("v%d: a's partitions %+v", v, p)
		}
		if p := got.Topics[1].Partitions; len(p) != 1 || p[0].Partition != 0 || p[0].FetchOffset != 3 || p[0].LastFetchedEpoch != -1 {
			t.Fatalf("v%d: b's partitions %+v", v, p)
		}
		if f := got.ForgottenTopics; len(f) != 1 || (topic{f[0].Topic, f[0].TopicID}) != name("a", idA) || !slices.Equal(f[0].Partitions, []int32{0}) {
			t.Fatalf("v%d: forgotten %+v", v, f)
		}
	}
}
