package api

// Fetch sessions (KIP-227). A consumer that fetches many partitions sends
// the whole list once (a full fetch with session epoch 0); the broker keeps
// it as a session and answers with its id. Later requests are incremental:
// they name only the partitions whose fetch position changed, plus the
// ones to forget, and the response holds only the partitions with
// something new (records, an error, or a changed high watermark, last
// stable offset or log start offset). The epoch in each request must be
// the one the broker expects next, so a lost or duplicated request is
// caught instead of silently skipping data.
//
// As in Kafka, the cache holds max.incremental.fetch.session.cache.slots
// sessions; when it is full, a session unused for two minutes is evicted
// to make room, and otherwise the new full fetch simply gets no session
// (id 0), which a client treats as "keep sending full fetches". Sessions
// are not tied to a connection.

import (
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionEvictAfter is how long a session must lie unused before a new
// one may take its slot (Kafka's min.incremental.fetch.session.eviction.ms).
const sessionEvictAfter = 2 * time.Minute

// maxSessionPartitions bounds the partitions all sessions hold together
// (about 100 bytes each). The slot count alone does not bound memory: a
// 2 MiB fetch names some 60,000 partitions, and a thousand such sessions
// would hold gigabytes. Past the bound, full fetches get no session and an
// incremental fetch that would add partitions loses its session (the
// client answers FETCH_SESSION_ID_NOT_FOUND with a full fetch).
const maxSessionPartitions = 1 << 20

// fetchSessions is the session cache.
type fetchSessions struct {
	maxParts int // maxSessionPartitions; tests set less

	mu    sync.Mutex
	byID  map[int32]*fetchSession
	parts int // partitions held by all sessions
}

// sessionKey names a partition in a session: by topic id for sessions made
// at Fetch v13+, by name before.
type sessionKey struct {
	topic string
	id    [16]byte
	index int32
}

// sessionPartition is a partition of a session: what the client asked for
// and what it was last told.
type sessionPartition struct {
	key         sessionKey
	fetchOffset int64
	maxBytes    int32
	leaderEpoch int32
	// lastFetchedEpoch is a follower's LastFetchedEpoch (v12+; -1 none).
	lastFetchedEpoch int32
	// The values last sent to the client, so an incremental response can
	// leave out a partition with nothing new; -2 until first sent.
	hw, lso, logStart int64
}

type fetchSession struct {
	id       int32
	topicIDs bool // made at v13+: partitions are keyed by topic id

	// Guarded by fetchSessions.mu.
	epoch    int32 // the epoch the next incremental request must carry
	lastUsed time.Time
	parts    []*sessionPartition // response order: those that returned data move to the back
	byKey    map[sessionKey]*sessionPartition
}

func newFetchSessions() *fetchSessions {
	return &fetchSessions{maxParts: maxSessionPartitions, byID: map[int32]*fetchSession{}}
}

// nextEpoch is the epoch after e; it wraps to 1, 0 and -1 being the full
// fetch markers.
func nextEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}

// sessionRequest is a Fetch request resolved against the session cache.
type sessionRequest struct {
	errorCode   int16              // a top-level session error: answer with nothing else
	session     *fetchSession      // the session the response belongs to; nil: none
	incremental bool               // the response holds only partitions with news
	parts       []sessionPartition // what to read, in response order
}

// resolveSession applies the session fields of a Fetch request (v7+):
// closes, creates or updates a session, and returns the partitions to read.
func (fs *fetchSessions) resolveSession(r *kmsg.FetchRequest, version int16, slots int, now time.Time) sessionRequest {
	topicIDs := version >= 13
	full := r.SessionEpoch == 0 || r.SessionEpoch == -1
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if full {
		// A full fetch closes the session it names, if any; epoch -1
		// asks for no new one.
		if old := fs.byID[r.SessionID]; old != nil {
			fs.remove(old)
		}
		parts := requestPartitions(r, topicIDs)
		if r.SessionEpoch == -1 || len(parts) == 0 || fs.parts+len(parts) > fs.maxParts {
			return sessionRequest{parts: parts}
		}
		s := fs.create(topicIDs, slots, now)
		if s == nil {
			return sessionRequest{parts: parts}
		}
		for i := range parts {
			s.add(parts[i])
		}
		fs.parts += len(s.parts)
		return sessionRequest{session: s, parts: parts}
	}
	s := fs.byID[r.SessionID]
	switch {
	case s == nil:
		return sessionRequest{errorCode: kerr.FetchSessionIDNotFound.Code}
	case s.epoch != r.SessionEpoch:
		return sessionRequest{errorCode: kerr.InvalidFetchSessionEpoch.Code}
	case s.topicIDs != topicIDs:
		return sessionRequest{errorCode: kerr.FetchSessionTopicIDError.Code}
	}
	before := len(s.parts)
	s.update(r)
	fs.parts += len(s.parts) - before
	if len(s.parts) > before && fs.parts > fs.maxParts {
		fs.remove(s)
		return sessionRequest{errorCode: kerr.FetchSessionIDNotFound.Code}
	}
	if len(s.parts) == 0 {
		// Everything was forgotten: the session has no reason to live.
		fs.remove(s)
		return sessionRequest{}
	}
	s.epoch = nextEpoch(s.epoch)
	s.lastUsed = now
	parts := make([]sessionPartition, len(s.parts))
	for i, p := range s.parts {
		parts[i] = *p
	}
	return sessionRequest{session: s, incremental: true, parts: parts}
}

// create makes a session with a fresh id, evicting one unused for
// sessionEvictAfter if the cache is full; nil when there is no room.
func (fs *fetchSessions) create(topicIDs bool, slots int, now time.Time) *fetchSession {
	if len(fs.byID) >= slots {
		var lru *fetchSession
		for _, s := range fs.byID {
			if lru == nil || s.lastUsed.Before(lru.lastUsed) {
				lru = s
			}
		}
		if lru == nil || now.Sub(lru.lastUsed) < sessionEvictAfter {
			return nil
		}
		fs.remove(lru)
	}
	id := rand.Int32()
	for id == 0 || fs.byID[id] != nil {
		id = rand.Int32()
	}
	s := &fetchSession{id: id, topicIDs: topicIDs, epoch: 1, lastUsed: now, byKey: map[sessionKey]*sessionPartition{}}
	fs.byID[id] = s
	return s
}

// remove drops s from the cache. Caller holds fs.mu.
func (fs *fetchSessions) remove(s *fetchSession) {
	delete(fs.byID, s.id)
	fs.parts -= len(s.parts)
}

// requestPartitions lists a request's partitions in request order.
func requestPartitions(r *kmsg.FetchRequest, topicIDs bool) []sessionPartition {
	var parts []sessionPartition
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			parts = append(parts, newSessionPartition(topicKey(rt, topicIDs), rp))
		}
	}
	return parts
}

func topicKey(rt kmsg.FetchRequestTopic, topicIDs bool) sessionKey {
	if topicIDs {
		return sessionKey{id: rt.TopicID}
	}
	return sessionKey{topic: rt.Topic}
}

func newSessionPartition(k sessionKey, rp kmsg.FetchRequestTopicPartition) sessionPartition {
	k.index = rp.Partition
	return sessionPartition{
		key: k, fetchOffset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, leaderEpoch: rp.CurrentLeaderEpoch,
		lastFetchedEpoch: rp.LastFetchedEpoch, hw: -2, lso: -2, logStart: -2,
	}
}

// add appends p, or updates the fetch position of the partition it names
// if the session has it already. Caller holds fs.mu.
func (s *fetchSession) add(np sessionPartition) {
	if p := s.byKey[np.key]; p != nil {
		p.fetchOffset, p.maxBytes, p.leaderEpoch = np.fetchOffset, np.maxBytes, np.leaderEpoch
		p.lastFetchedEpoch = np.lastFetchedEpoch
		return
	}
	p := &np
	s.byKey[p.key] = p
	s.parts = append(s.parts, p)
}

// update applies an incremental request: the partitions it names are added
// or get their new position; the forgotten ones leave. Caller holds fs.mu.
// It takes time linear in the session and the request, whatever their size.
func (s *fetchSession) update(r *kmsg.FetchRequest) {
	for _, rt := range r.Topics {
		tk := topicKey(rt, s.topicIDs)
		for _, rp := range rt.Partitions {
			s.add(newSessionPartition(tk, rp))
		}
	}
	forgot := false
	for _, ft := range r.ForgottenTopics {
		k := sessionKey{topic: ft.Topic}
		if s.topicIDs {
			k = sessionKey{id: ft.TopicID}
		}
		for _, idx := range ft.Partitions {
			k.index = idx
			if s.byKey[k] != nil {
				delete(s.byKey, k)
				forgot = true
			}
		}
	}
	if forgot {
		s.parts = slices.DeleteFunc(s.parts, func(p *sessionPartition) bool { return s.byKey[p.key] != p })
	}
}

// sent records what a response told the client about each partition of
// the session: parts are the partitions read (in order), told whether each
// went into the response. Partitions that returned records move to the
// back, so that under fetch.max.bytes the others get their turn first.
func (fs *fetchSessions) sent(s *fetchSession, parts []sessionPartition, told []bool, hadRecords []bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var moved map[*sessionPartition]bool
	for i := range parts {
		if !told[i] {
			continue
		}
		p := s.byKey[parts[i].key]
		if p == nil {
			continue // forgotten meanwhile by a later request
		}
		p.hw, p.lso, p.logStart = parts[i].hw, parts[i].lso, parts[i].logStart
		if hadRecords[i] {
			if moved == nil {
				moved = map[*sessionPartition]bool{}
			}
			moved[p] = true
		}
	}
	if len(moved) == 0 {
		return
	}
	back := make([]*sessionPartition, 0, len(moved))
	kept := s.parts[:0]
	for _, p := range s.parts {
		if moved[p] {
			back = append(back, p)
		} else {
			kept = append(kept, p)
		}
	}
	s.parts = append(kept, back...)
}

// FollowerFetchStats counts the follower fetches a leader served since it
// started: full ones (no session, or opening one) and incremental ones,
// with the partitions the incremental requests named. A follower in a
// session names a partition only when its fetch state changed, so in a
// quiet cluster IncrementalPartitions grows by one per follower and append.
// BelowV15 counts the follower fetches of a version before ReplicaState.
type FollowerFetchStats struct {
	Full, Incremental, IncrementalPartitions, BelowV15 int64
}

type followerFetchStats struct {
	full, incremental, incrementalParts, belowV15 atomic.Int64
}

// count records follower fetch r of version v, resolved as sr.
func (s *followerFetchStats) count(r *kmsg.FetchRequest, v int16, sr sessionRequest) {
	if v < 15 {
		s.belowV15.Add(1)
	}
	if !sr.incremental {
		s.full.Add(1)
		return
	}
	s.incremental.Add(1)
	n := 0
	for _, t := range r.Topics {
		n += len(t.Partitions)
	}
	s.incrementalParts.Add(int64(n))
}

// FollowerFetchStats reports the follower fetches this handler served.
func (h *Handler) FollowerFetchStats() FollowerFetchStats {
	s := &h.followerFetches
	return FollowerFetchStats{Full: s.full.Load(), Incremental: s.incremental.Load(), IncrementalPartitions: s.incrementalParts.Load(),
		BelowV15: s.belowV15.Load()}
}
