package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/internal/replication"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// followerLeader is a handler on broker 1 leading partition 0 of topic "t"
// (replicas [1 2 3], all in the ISR), brokers 2 and 3 live.
type followerLeader struct {
	h       *Handler
	p       *partition.Partition
	topicID [16]byte
	img     *metadata.Image
}

func openFollowerLeader(t *testing.T) *followerLeader {
	t.Helper()
	dir := t.TempDir()
	img := metadata.Empty("MkU3OEVBNTcwNTJENDM2Qg", 1)
	empty := img
	off := int64(0)
	apply := func(r metadata.Record) {
		t.Helper()
		next, err := img.Apply(off, r)
		if err != nil {
			t.Fatal(err)
		}
		img, off = next, off+1
	}
	for id := int32(1); id <= 3; id++ {
		apply(metadata.Record{RegisterBroker: &metadata.RegisterBroker{NodeID: id, Host: "127.0.0.1", Port: 9091 + id, Incarnation: metadata.NewUUID(), Unfenced: true}})
	}
	id := metadata.NewUUID()
	apply(metadata.Record{CreateTopic: &metadata.CreateTopic{Name: "t", ID: id, Replicas: [][]int32{{1, 2, 3}}}})
	cfg, err := config.Load("", nil, map[string]string{"log.dirs": dir})
	if err != nil {
		t.Fatal(err)
	}
	reps := replication.New(replication.Config{NodeID: 1, DataDir: dir, Logger: slog.New(slog.DiscardHandler),
		Resolve: func(map[string]string) partition.Config {
			return partition.Config{MaxMessageBytes: 1 << 20, MinInsyncReplicas: 1, Delete: true, RetentionMs: -1, RetentionBytes: -1,
				TimestampBeforeMaxMs: 1 << 62, TimestampAfterMaxMs: 1 << 62}
		}})
	t.Cleanup(func() { reps.Close() })
	reps.Apply(empty, img)
	pub := metadata.NewPublisher(img)
	t.Cleanup(pub.Close)
	h := New(Deps{NodeID: 1, Host: "127.0.0.1", Port: 9092, Metadata: pub, Replicas: reps, Config: cfg, Logger: slog.New(slog.DiscardHandler)})
	p := reps.Partition("t", 0)
	if p == nil || p.Role() != partition.RoleLeader {
		t.Fatal("broker 1 does not lead t-0")
	}
	return &followerLeader{h: h, p: p, topicID: id, img: img}
}

// fetch sends a v15 follower fetch from replica (of broker epoch epoch) in
// session (id, sessionEpoch), naming partition 0 at offset when offset >= 0,
// and returns the decoded response.
func (fl *followerLeader) fetch(t *testing.T, replica int32, epoch int64, id, sessionEpoch int32, offset int64) *kmsg.FetchResponse {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaState.ID, req.ReplicaState.Epoch = replica, epoch
	req.MaxBytes, req.MinBytes, req.MaxWaitMillis = 1<<20, 1, 0
	req.SessionID, req.SessionEpoch = id, sessionEpoch
	if offset >= 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.TopicID = fl.topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, offset, 1<<20, 0
		rp.LastFetchedEpoch = -1
		if offset > 0 {
			rp.LastFetchedEpoch = 0
		}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	const v = 15
	req.SetVersion(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := fl.h.Handle(ctx, &wire.Request{Key: 1, Version: v, Msg: req, Conn: &wire.ConnInfo{Plaintext: true}})(ctx)
	if resp.Body == nil {
		t.Fatal("fetch: no response body")
	}
	b := flatten(t, resp.Body.Chunks)
	if resp.Body.Release != nil {
		resp.Body.Release()
	}
	out := kmsg.NewPtrFetchResponse()
	out.SetVersion(v)
	if err := out.ReadFrom(b); err != nil {
		t.Fatalf("fetch response does not decode: %v", err)
	}
	return out
}

// partSeen is what a response says of partition 0.
type partSeen struct {
	named           bool
	err             int16
	hw, logStart    int64
	hasRecords      bool
	topicIDMatching bool
}

func (fl *followerLeader) seen(resp *kmsg.FetchResponse) partSeen {
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.Partition == 0 {
				return partSeen{named: true, err: rp.ErrorCode, hw: rp.HighWatermark, logStart: rp.LogStartOffset,
					hasRecords: len(rp.RecordBatches) > 0, topicIDMatching: rt.TopicID == fl.topicID}
			}
		}
	}
	return partSeen{}
}

// TestFollowerSessionReportsHWAndLogStart: in an incremental session a
// follower that has nothing new to send still hears of its partition when
// the leader's high watermark or log start moved, though no record came
// (Kafka's FetchSession for replicas); and hears nothing when nothing moved.
func TestFollowerSessionReportsHWAndLogStart(t *testing.T) {
	t.Parallel()
	fl := openFollowerLeader(t)
	e2, e3 := fl.img.Brokers[2].Epoch, fl.img.Brokers[3].Epoch
	b, err := record.BuildBatch(record.CodecNone, 0, []record.Record{{Value: []byte("a")}, {OffsetDelta: 1, Value: []byte("b")}},
		record.BuildOptions{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.p.Append(b); err != nil {
		t.Fatal(err)
	}

	// Full fetches open a session for each follower and return the batch.
	r2 := fl.fetch(t, 2, e2, 0, 0, 0)
	r3 := fl.fetch(t, 3, e3, 0, 0, 0)
	for i, r := range []*kmsg.FetchResponse{r2, r3} {
		if got := fl.seen(r); r.ErrorCode != 0 || r.SessionID == 0 || got != (partSeen{named: true, hw: 0, hasRecords: true, topicIDMatching: true}) {
			t.Fatalf("full fetch of follower %d: error %d session %d, partition %+v", i+2, r.ErrorCode, r.SessionID, got)
		}
	}
	s2, s3 := r2.SessionID, r3.SessionID
	if fs, ok := fl.p.Follower(2); !ok || fs.BrokerEpoch != e2 {
		t.Fatalf("leader's view of follower 2: %+v, want broker epoch %d", fs, e2)
	}

	steps := []struct {
		name     string
		replica  int32
		epoch    int64
		session  int32
		sepoch   int32
		offset   int64 // -1: the partition is not named
		deleteTo int64 // DeleteRecords on the leader first, when > 0
		want     partSeen
	}{
		// 2 reaches the log end; 3 still holds the HW at 0: nothing new for 2.
		{"2 at the log end", 2, e2, s2, 1, 2, 0, partSeen{}},
		// 3 reaches the log end: the HW moves to 2, and 3 hears it.
		{"3 at the log end", 3, e3, s3, 1, 2, 0, partSeen{named: true, hw: 2, topicIDMatching: true}},
		// 2 sends nothing new, yet hears of the HW it has not been told.
		{"2 learns the HW", 2, e2, s2, 2, -1, 0, partSeen{named: true, hw: 2, topicIDMatching: true}},
		{"2 idle", 2, e2, s2, 3, -1, 0, partSeen{}},
		// DeleteRecords moves the leader's log start: 2 hears it.
		{"2 learns the log start", 2, e2, s2, 4, -1, 1, partSeen{named: true, hw: 2, logStart: 1, topicIDMatching: true}},
		{"2 idle again", 2, e2, s2, 5, -1, 0, partSeen{}},
	}
	for _, s := range steps {
		if s.deleteTo > 0 {
			if _, err := fl.p.DeleteRecords(s.deleteTo); err != nil {
				t.Fatal(err)
			}
		}
		r := fl.fetch(t, s.replica, s.epoch, s.session, s.sepoch, s.offset)
		if r.ErrorCode != 0 || r.SessionID != s.session {
			t.Fatalf("%s: error %d, session %d; want 0, %d", s.name, r.ErrorCode, r.SessionID, s.session)
		}
		if got := fl.seen(r); got != s.want {
			t.Fatalf("%s: partition %+v, want %+v", s.name, got, s.want)
		}
	}
	st := fl.h.FollowerFetchStats()
	if want := (FollowerFetchStats{Full: 2, Incremental: int64(len(steps)), IncrementalPartitions: 2}); st != want {
		t.Fatalf("follower fetch stats %+v, want %+v", st, want)
	}
}

// TestFollowerFetchBrokerEpoch: a fetch from an older incarnation of a
// follower than the live one is NOT_LEADER_OR_FOLLOWER and not recorded;
// -1 (a follower that does not send one) and the live epoch are served
// and recorded (KIP-903).
func TestFollowerFetchBrokerEpoch(t *testing.T) {
	t.Parallel()
	fl := openFollowerLeader(t)
	e2 := fl.img.Brokers[2].Epoch
	for _, c := range []struct {
		epoch    int64
		code     int16
		recorded int64
	}{
		{e2 - 1, kerr.NotLeaderForPartition.Code, -1},
		{-1, 0, -1},
		{e2, 0, e2},
		{e2 - 1, kerr.NotLeaderForPartition.Code, e2},
	} {
		r := fl.fetch(t, 2, c.epoch, 0, -1, 0)
		if got := fl.seen(r); r.ErrorCode != 0 || got.err != c.code {
			t.Fatalf("fetch with broker epoch %d: error %d, partition %+v; want partition error %d", c.epoch, r.ErrorCode, got, c.code)
		}
		if fs, _ := fl.p.Follower(2); fs.BrokerEpoch != c.recorded {
			t.Fatalf("after a fetch with broker epoch %d the leader holds %d, want %d", c.epoch, fs.BrokerEpoch, c.recorded)
		}
	}
}
