package replication

// The follower's side of a fetch session (KIP-227), Kafka's
// FetchSessionHandler: a fetcher that follows many partitions of one
// leader sends them all once (a full fetch: session id 0, epoch 0), and the
// leader keeps them as a session. Later fetches are incremental: they
// carry only the partitions whose fetch state changed since the leader
// last heard of them (fetch offset, log start, leader epoch, last fetched
// epoch, max bytes), the ones that joined, and the ones to forget; the
// leader reads the others at the offsets it holds and answers only with
// partitions that have something new (records, an error, or a changed high
// watermark or log start). Each incremental fetch carries the next epoch.
//
// What the session holds changes only when an answer comes: a fetch that
// fails on the network, or that the leader answers with a session error,
// starts over with a full fetch that closes the old session.

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
)

// partFetchState is what a fetch says about one partition; the leader's
// session keeps the last one it was sent.
type partFetchState struct {
	TopicID          [16]byte
	FetchOffset      int64
	LogStartOffset   int64
	CurrentEpoch     int32
	LastFetchedEpoch int32
	MaxBytes         int32
}

// followerSession is a fetcher's session with its leader. Only the
// fetcher's goroutine uses it.
type followerSession struct {
	id    int32 // 0: none; the next fetch is full
	epoch int32 // the epoch of the next fetch; 0: full
	// held is what the leader's session holds, as last sent.
	held map[log.TopicPartition]partFetchState
}

// sessionFetch is one fetch built by a session: the partitions to send
// (all of them when full) and the ones to forget.
type sessionFetch struct {
	SessionID    int32
	SessionEpoch int32
	Full         bool
	Send         []log.TopicPartition // sorted by topic, then partition
	Forget       []log.TopicPartition // sorted; only in an incremental fetch
	want         map[log.TopicPartition]partFetchState
	forgetIDs    map[string][16]byte // the topic ids of Forget
}

// build makes the next fetch for the partitions in want (the partitions to
// fetch now, with their state).
func (s *followerSession) build(want map[log.TopicPartition]partFetchState) *sessionFetch {
	sf := &sessionFetch{SessionID: s.id, SessionEpoch: s.epoch, Full: s.epoch == 0, want: want}
	for tp, st := range want {
		if held, ok := s.held[tp]; sf.Full || !ok || held != st {
			sf.Send = append(sf.Send, tp)
		}
	}
	if !sf.Full {
		for tp := range s.held {
			if _, ok := want[tp]; !ok {
				sf.Forget = append(sf.Forget, tp)
				if sf.forgetIDs == nil {
					sf.forgetIDs = map[string][16]byte{}
				}
				sf.forgetIDs[tp.Topic] = s.held[tp].TopicID
			}
		}
	}
	sortTPs(sf.Send)
	sortTPs(sf.Forget)
	return sf
}

func sortTPs(tps []log.TopicPartition) {
	slices.SortFunc(tps, func(a, b log.TopicPartition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
}

// answered records the leader's answer to sf: its top-level error code and
// session id. A session error (FETCH_SESSION_ID_NOT_FOUND,
// INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR) or any other
// top-level error makes the next fetch full; so does an answer without a
// session (id 0: the leader's cache was full, or every partition was
// forgotten). Otherwise the session holds what sf sent, at the next epoch.
func (s *followerSession) answered(sf *sessionFetch, errorCode int16, sessionID int32) {
	switch {
	case errorCode == kerr.FetchSessionIDNotFound.Code, errorCode == kerr.InvalidFetchSessionEpoch.Code,
		errorCode == kerr.FetchSessionTopicIDError.Code, errorCode == 0 && sessionID == 0:
		// No session on the leader: start a new one.
		s.id, s.epoch, s.held = 0, 0, nil
		return
	case errorCode != 0, !sf.Full && sessionID != s.id:
		// The leader's session is in doubt: a full fetch that names it
		// closes it and opens another.
		s.epoch, s.held = 0, nil
		return
	}
	if sf.Full {
		s.held = make(map[log.TopicPartition]partFetchState, len(sf.want))
	}
	for _, tp := range sf.Forget {
		delete(s.held, tp)
	}
	for _, tp := range sf.Send {
		s.held[tp] = sf.want[tp]
	}
	s.id, s.epoch = sessionID, nextSessionEpoch(s.epoch)
}

// failed records that sf got no answer (a network error): the leader may
// or may not have applied it, so the next fetch is full, closing the
// session by its id.
func (s *followerSession) failed() {
	s.epoch, s.held = 0, nil
}

// nextSessionEpoch is the epoch after e: it wraps to 1, as 0 and -1 mark
// full fetches.
func nextSessionEpoch(e int32) int32 {
	if e == 1<<31-1 {
		return 1
	}
	return e + 1
}
