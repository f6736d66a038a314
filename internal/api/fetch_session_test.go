package api

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchOf is a v12 fetch of partitions 0..n-1 of topic t in a session.
func fetchOf(id, epoch int32, t string, n int32, forget ...int32) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.SessionID, r.SessionEpoch = id, epoch
	if n > 0 {
		rt := kmsg.FetchRequestTopic{Topic: t}
		for i := range n {
			rt.Partitions = append(rt.Partitions, kmsg.FetchRequestTopicPartition{Partition: i, PartitionMaxBytes: 1})
		}
		r.Topics = append(r.Topics, rt)
	}
	if len(forget) > 0 {
		r.ForgottenTopics = []kmsg.FetchRequestForgottenTopic{{Topic: t, Partitions: forget}}
	}
	return r
}

// TestFetchSessionPartitionBound: the partitions all sessions hold stay
// within the bound, and the count follows every way a session changes.
func TestFetchSessionPartitionBound(t *testing.T) {
	fs := newFetchSessions()
	fs.maxParts = 10
	now := time.Unix(1000, 0)
	resolve := func(r *kmsg.FetchRequest) sessionRequest { return fs.resolveSession(r, 12, 100, now) }
	held := func(want int) {
		t.Helper()
		if fs.parts != want {
			t.Fatalf("sessions hold %d partitions, want %d", fs.parts, want)
		}
	}

	a := resolve(fetchOf(0, 0, "a", 6))
	if a.session == nil {
		t.Fatal("6 partitions under a bound of 10 got no session")
	}
	held(6)
	if b := resolve(fetchOf(0, 0, "b", 5)); b.session != nil || len(b.parts) != 5 {
		t.Fatalf("5 more partitions past the bound: session %v, %d partitions read", b.session, len(b.parts))
	}
	held(6)
	b := resolve(fetchOf(0, 0, "b", 4))
	if b.session == nil {
		t.Fatal("4 partitions up to the bound got no session")
	}
	held(10)

	// Forgetting frees room; adding past the bound loses the session.
	if r := resolve(fetchOf(a.session.id, 1, "a", 0, 4, 5)); r.errorCode != 0 {
		t.Fatalf("forget: %d", r.errorCode)
	}
	held(8)
	if r := resolve(fetchOf(b.session.id, 1, "b", 7)); r.errorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("growing past the bound: error %d, want FETCH_SESSION_ID_NOT_FOUND", r.errorCode)
	}
	held(4)
	if r := resolve(fetchOf(b.session.id, 2, "b", 0)); r.errorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("the dropped session still answers: %d", r.errorCode)
	}

	// A full fetch naming a session closes it; forgetting everything
	// ends one.
	c := resolve(fetchOf(a.session.id, 0, "c", 3))
	if c.session == nil {
		t.Fatal("a full fetch that closes a session got none of its own")
	}
	held(3)
	if r := resolve(fetchOf(c.session.id, 1, "c", 0, 0, 1, 2)); r.session != nil || r.errorCode != 0 {
		t.Fatalf("forgetting every partition: session %v, error %d", r.session, r.errorCode)
	}
	held(0)
	if len(fs.byID) != 0 {
		t.Fatalf("%d sessions left", len(fs.byID))
	}
}

// TestFetchSessionEviction: a full cache evicts only a session idle for
// two minutes.
func TestFetchSessionEviction(t *testing.T) {
	fs := newFetchSessions()
	now := time.Unix(1000, 0)
	first := fs.resolveSession(fetchOf(0, 0, "a", 2), 12, 1, now)
	if first.session == nil {
		t.Fatal("no session in an empty cache")
	}
	if r := fs.resolveSession(fetchOf(0, 0, "b", 1), 12, 1, now.Add(sessionEvictAfter-time.Second)); r.session != nil {
		t.Fatal("evicted a session used less than two minutes ago")
	}
	r := fs.resolveSession(fetchOf(0, 0, "b", 1), 12, 1, now.Add(sessionEvictAfter))
	if r.session == nil || fs.byID[first.session.id] != nil || fs.parts != 1 {
		t.Fatalf("after two idle minutes: new session %v, old still cached %v, %d partitions held",
			r.session, fs.byID[first.session.id] != nil, fs.parts)
	}
}
