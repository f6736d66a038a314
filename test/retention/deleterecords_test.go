package retention

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// deleteRecords sends one DeleteRecords request straight to the broker, as
// built (kadm would split it by leader, and answer for topics it does not
// know itself), and returns each partition's answer in request order.
func deleteRecords(ctx context.Context, t testing.TB, br *kgo.Broker, topic string, offsets map[int32]int64) map[int32]kmsg.DeleteRecordsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	for p, o := range offsets {
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p, o
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	kresp, err := br.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	resp := kresp.(*kmsg.DeleteRecordsResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != len(offsets) {
		t.Fatalf("DeleteRecords of %s: response %+v", topic, resp.Topics)
	}
	out := map[int32]kmsg.DeleteRecordsResponseTopicPartition{}
	for _, p := range resp.Topics[0].Partitions {
		out[p.Partition] = p
	}
	return out
}

// expectDeleteError wants err code and low watermark -1 for every partition.
func expectDeleteError(t testing.TB, what string, got map[int32]kmsg.DeleteRecordsResponseTopicPartition, want *kerr.Error) {
	t.Helper()
	for p, r := range got {
		if r.ErrorCode != want.Code || r.LowWatermark != -1 {
			t.Errorf("%s, partition %d: %v, low watermark %d; want %v, -1", what, p, kerr.ErrorForCode(r.ErrorCode), r.LowWatermark, want)
		}
	}
}

// TestDeleteRecords: DeleteRecords moves the log start offset to the
// requested offset (-1: the high watermark) and answers it as the low
// watermark; ListOffsets earliest and Fetch's log start offset follow it,
// fetching below it is OFFSET_OUT_OF_RANGE, the segments wholly below it
// go (kept as *.deleted for file.delete.delay.ms), and it survives a
// restart. It is served at every version; the errors are Kafka's.
func TestDeleteRecords(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := cluster.Start(t, append(fast, "offsets.topic.num.partitions=1")...)
	c := newClient(t, b)
	const topic = "trim"
	// file.delete.delay.ms keeps the deleted segments' files in sight.
	c.createTopic(ctx, t, topic, 2, map[string]string{"segment.bytes": "1024", "file.delete.delay.ms": "600000"})
	c.produce(ctx, t, topic, 0, 60, time.Now())
	c.produce(ctx, t, topic, 1, 5, time.Now())
	before := mustLayout(t, b.Dir, topic, 0)
	if !slices.Equal(before.bases, []int64{0, 6, 12, 18, 24, 30, 36, 42, 48, 54}) {
		t.Fatalf("%v: want 6 one-record batches of 170 bytes per 1024-byte segment", before)
	}

	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 25})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: -1})
	resps, err := c.adm.DeleteRecords(ctx, offs)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]int64{0: 25, 1: 5} {
		r, ok := resps.Lookup(topic, p)
		if !ok || r.Err != nil || r.LowWatermark != want {
			t.Fatalf("DeleteRecords %s-%d: found %v, %v, low watermark %d; want %d", topic, p, ok, r.Err, r.LowWatermark, want)
		}
		if got := c.startOffset(ctx, t, topic, p); got != want {
			t.Fatalf("earliest offset of %s-%d: %d, want %d", topic, p, got, want)
		}
	}
	// Offset 25 is in segment 24: the four before it go.
	want := before.from(24)
	want.deleted = deletedNames(0, 6, 12, 18)
	if got := mustLayout(t, b.Dir, topic, 0); !got.equal(want) {
		t.Fatalf("after DeleteRecords: %v, want %v", got, want)
	}
	f0, f1 := c.fetcher(ctx, t, topic, 0), c.fetcher(ctx, t, topic, 1)
	expectOutOfRange(ctx, t, f0, 0)
	expectOutOfRange(ctx, t, f0, 24)
	readRange(ctx, t, f0, 25, 60, 25)
	expectOutOfRange(ctx, t, f1, 4)
	if p, err := f1.fetch(ctx, 5, 1024); err != nil || p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.LogStartOffset != 5 {
		t.Fatalf("fetch at the high watermark after deleting all: %v, %+v", err, p)
	}

	br := c.broker(ctx, t)
	// Below the start: nothing moves, and the answer is the start.
	if r := deleteRecords(ctx, t, br, topic, map[int32]int64{0: 10})[0]; r.ErrorCode != 0 || r.LowWatermark != 25 {
		t.Fatalf("DeleteRecords below the start: %v, low watermark %d; want none, 25", kerr.ErrorForCode(r.ErrorCode), r.LowWatermark)
	}
	expectDeleteError(t, "above the high watermark", deleteRecords(ctx, t, br, topic, map[int32]int64{0: 61, 1: 6}), kerr.OffsetOutOfRange)
	expectDeleteError(t, "a negative offset other than -1", deleteRecords(ctx, t, br, topic, map[int32]int64{0: -2}), kerr.OffsetOutOfRange)
	expectDeleteError(t, "an unknown partition", deleteRecords(ctx, t, br, topic, map[int32]int64{2: 0, -1: 0}), kerr.UnknownTopicOrPartition)
	expectDeleteError(t, "an unknown topic", deleteRecords(ctx, t, br, "nope", map[int32]int64{0: 0}), kerr.UnknownTopicOrPartition)
	c.createTopic(ctx, t, "compacted", 1, map[string]string{"cleanup.policy": "compact"})
	expectDeleteError(t, "a compacted topic", deleteRecords(ctx, t, br, "compacted", map[int32]int64{0: -1}), kerr.PolicyViolation)
	// FindCoordinator creates __consumer_offsets; cutting it would lose
	// committed offsets, and Kafka refuses.
	waitFor(ctx, t, "__consumer_offsets", func() (bool, string) {
		r := c.adm.FindGroupCoordinators(ctx, "g")["g"]
		return r.Err == nil, fmt.Sprint(r.Err)
	})
	expectDeleteError(t, "an internal topic", deleteRecords(ctx, t, br, "__consumer_offsets", map[int32]int64{0: -1}), kerr.InvalidTopicException)
	if got := c.startOffset(ctx, t, topic, 0); got != 25 {
		t.Fatalf("after the refused requests, earliest offset %d, want 25", got)
	}

	// Every version moves the start the same way.
	for v, off := range []int64{27, 31, 33} {
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(21, int16(v))
		cv := newClient(t, b, kgo.MaxVersions(vs))
		r := deleteRecords(ctx, t, cv.broker(ctx, t), topic, map[int32]int64{0: off})[0]
		if r.ErrorCode != 0 || r.LowWatermark != off {
			t.Fatalf("DeleteRecords v%d to %d: %v, low watermark %d", v, off, kerr.ErrorForCode(r.ErrorCode), r.LowWatermark)
		}
	}
	want = before.from(30)
	want.deleted = deletedNames(0, 6, 12, 18, 24)
	if got := mustLayout(t, b.Dir, topic, 0); !got.equal(want) {
		t.Fatalf("after DeleteRecords to 33: %v, want %v", got, want)
	}

	// The start is durable; the deleted files go with the restart.
	b = b.Restart()
	c = newClient(t, b)
	for p, want := range map[int32]int64{0: 33, 1: 5} {
		if got := c.startOffset(ctx, t, topic, p); got != want {
			t.Fatalf("after a restart, earliest offset of %s-%d: %d, want %d", topic, p, got, want)
		}
	}
	if got, want := mustLayout(t, b.Dir, topic, 0), before.from(30); !got.equal(want) {
		t.Fatalf("after a restart: %v, want %v", got, want)
	}
	f0 = c.fetcher(ctx, t, topic, 0)
	expectOutOfRange(ctx, t, f0, 32)
	readRange(ctx, t, f0, 33, 60, 33)
	if err := kerr.ErrorForCode(deleteRecords(ctx, t, c.broker(ctx, t), topic, map[int32]int64{0: 61})[0].ErrorCode); !errors.Is(err, kerr.OffsetOutOfRange) {
		t.Fatalf("after a restart, DeleteRecords above the high watermark: %v", err)
	}
}

// deletedNames are the files that segments retired but not yet removed
// leave, sorted as readLayout lists them.
func deletedNames(bases ...int64) []string {
	var out []string
	for _, b := range bases {
		for _, suffix := range []string{".index", ".log", ".timeindex"} {
			out = append(out, fmt.Sprintf("%020d%s.deleted", b, suffix))
		}
	}
	slices.Sort(out)
	return out
}
