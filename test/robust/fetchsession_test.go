package robust

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionFetch is a fetch in a session: id 0 with epoch 0 opens one.
func sessionFetch(id, epoch int32, parts map[int32]int64, forget ...int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	req.SessionID, req.SessionEpoch = id, epoch
	if len(parts) > 0 {
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "s"
		idx := make([]int32, 0, len(parts))
		for p := range parts {
			idx = append(idx, p)
		}
		slices.Sort(idx)
		for _, p := range idx {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, parts[p], 1<<20
			ft.Partitions = append(ft.Partitions, fp)
		}
		req.Topics = append(req.Topics, ft)
	}
	if len(forget) > 0 {
		req.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{Topic: "s", Partitions: forget}}
	}
	return req
}

// partitionsIn lists the partitions a fetch response holds, with their
// high watermarks and record values.
func partitionsIn(t *testing.T, resp *kmsg.FetchResponse) map[int32][]string {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("fetch error %s", codeName(resp.ErrorCode))
	}
	out := map[int32][]string{}
	for _, rt := range resp.Topics {
		if rt.Topic != "s" {
			t.Fatalf("topic %q in the response", rt.Topic)
		}
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 {
				t.Fatalf("partition %d: %s", p.Partition, codeName(p.ErrorCode))
			}
			vals := []string{}
			for _, r := range decode(t, p.RecordBatches) {
				vals = append(vals, r.Value)
			}
			out[p.Partition] = vals
		}
	}
	return out
}

// TestFetchSessions: KIP-227 as a consumer drives it. A full fetch opens a
// session; incremental fetches name only the partitions whose position
// moved and get back only the partitions with something new; epochs are
// checked; forgotten partitions leave; epoch -1 closes the session.
func TestFetchSessions(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	createTopic(t, c, "s", 3)
	produceOK(t, c, "s", 0, plainBatch(t, "a0", "a1"), 0)
	produceOK(t, c, "s", 1, plainBatch(t, "b0"), 0)

	full := rt[*kmsg.FetchResponse](t, c, sessionFetch(0, 0, map[int32]int64{0: 0, 1: 0, 2: 0}))
	id := full.SessionID
	if id == 0 {
		t.Fatal("a full fetch with epoch 0 got no session")
	}
	if got, want := partitionsIn(t, full), map[int32][]string{0: {"a0", "a1"}, 1: {"b0"}, 2: {}}; !equalParts(got, want) {
		t.Fatalf("full fetch: %v, want %v", got, want)
	}

	// Positions moved on 0 and 1; nothing new anywhere: an empty
	// response, after the (zero) wait.
	inc := rt[*kmsg.FetchResponse](t, c, sessionFetch(id, 1, map[int32]int64{0: 2, 1: 1}))
	if inc.SessionID != id {
		t.Fatalf("incremental fetch answered for session %d, want %d", inc.SessionID, id)
	}
	if got := partitionsIn(t, inc); len(got) != 0 {
		t.Fatalf("incremental fetch with nothing new returned %v", got)
	}

	// New records on partition 2 only: the response holds partition 2,
	// read from the position the session remembers (0).
	produceOK(t, c, "s", 2, plainBatch(t, "c0"), 0)
	inc = rt[*kmsg.FetchResponse](t, c, sessionFetch(id, 2, nil))
	if got, want := partitionsIn(t, inc), map[int32][]string{2: {"c0"}}; !equalParts(got, want) {
		t.Fatalf("incremental fetch after producing to 2: %v, want %v", got, want)
	}

	// A stale or skipped epoch is refused and changes nothing.
	for _, epoch := range []int32{2, 4} {
		r := rt[*kmsg.FetchResponse](t, c, sessionFetch(id, epoch, nil))
		if r.ErrorCode != kerr.InvalidFetchSessionEpoch.Code || len(r.Topics) != 0 {
			t.Fatalf("epoch %d: %s with %d topics, want INVALID_FETCH_SESSION_EPOCH", epoch, codeName(r.ErrorCode), len(r.Topics))
		}
	}
	if r := rt[*kmsg.FetchResponse](t, c, sessionFetch(id+1, 1, nil)); r.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: %s, want FETCH_SESSION_ID_NOT_FOUND", codeName(r.ErrorCode))
	}

	// Forget partition 0: new records there no longer show.
	inc = rt[*kmsg.FetchResponse](t, c, sessionFetch(id, 3, map[int32]int64{2: 1}, 0))
	if got := partitionsIn(t, inc); len(got) != 0 {
		t.Fatalf("after forgetting 0: %v, want nothing", got)
	}
	produceOK(t, c, "s", 0, plainBatch(t, "a2"), 2)
	produceOK(t, c, "s", 1, plainBatch(t, "b1"), 1)
	inc = rt[*kmsg.FetchResponse](t, c, sessionFetch(id, 4, nil))
	if got, want := partitionsIn(t, inc), map[int32][]string{1: {"b1"}}; !equalParts(got, want) {
		t.Fatalf("after forgetting 0 and producing to 0 and 1: %v, want %v", got, want)
	}

	// Epoch -1 closes the session: the fetch is answered in full, with no
	// session, and the id is gone.
	closing := rt[*kmsg.FetchResponse](t, c, sessionFetch(id, -1, map[int32]int64{0: 2}))
	if closing.SessionID != 0 {
		t.Fatalf("closing fetch answered with session %d", closing.SessionID)
	}
	if got, want := partitionsIn(t, closing), map[int32][]string{0: {"a2"}}; !equalParts(got, want) {
		t.Fatalf("closing fetch: %v, want %v", got, want)
	}
	if r := rt[*kmsg.FetchResponse](t, c, sessionFetch(id, 5, nil)); r.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: %s, want FETCH_SESSION_ID_NOT_FOUND", codeName(r.ErrorCode))
	}
	serving(t, b)
}

// TestFetchSessionCacheFull: with max.incremental.fetch.session.cache.slots
// sessions open and none idle for two minutes, a new full fetch is served
// without a session.
func TestFetchSessionCacheFull(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "max.incremental.fetch.session.cache.slots=1")
	c := dial(t, b.Addr())
	createTopic(t, c, "s", 1)
	first := rt[*kmsg.FetchResponse](t, c, sessionFetch(0, 0, map[int32]int64{0: 0}))
	second := rt[*kmsg.FetchResponse](t, c, sessionFetch(0, 0, map[int32]int64{0: 0}))
	if first.SessionID == 0 || second.SessionID != 0 {
		t.Fatalf("sessions %d and %d with one slot; want the first only", first.SessionID, second.SessionID)
	}
	if got := partitionsIn(t, second); !equalParts(got, map[int32][]string{0: {}}) {
		t.Fatalf("sessionless full fetch: %v", got)
	}
	// The first session still works.
	if r := rt[*kmsg.FetchResponse](t, c, sessionFetch(first.SessionID, 1, nil)); r.ErrorCode != 0 || r.SessionID != first.SessionID {
		t.Fatalf("first session after the cache filled: %s, session %d", codeName(r.ErrorCode), r.SessionID)
	}
}

func equalParts(a, b map[int32][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}
