package robust

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchRefused: fetches of offsets, topics and partitions that are not
// there, each answered with its code in the partition while the broker
// goes on serving.
func TestFetchRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	createTopic(t, c, "data", 1)
	produceOK(t, c, "data", 0, plainBatch(t, "d0", "d1", "d2"), 0)

	byID := func(id [16]byte) *kmsg.FetchRequest {
		req := fetchReq("", 0, 0, 1<<20, 1<<20)
		req.Version = 13
		req.Topics[0].TopicID = id
		return req
	}
	cases := []struct {
		name string
		req  *kmsg.FetchRequest
		want *kerr.Error
	}{
		{"offset beyond the log end", fetchReq("data", 0, 13, 1<<20, 1<<20), kerr.OffsetOutOfRange},
		{"offset one past the log end", fetchReq("data", 0, 4, 1<<20, 1<<20), kerr.OffsetOutOfRange},
		{"offset -1", fetchReq("data", 0, -1, 1<<20, 1<<20), kerr.OffsetOutOfRange},
		{"unknown topic", fetchReq("no-such-topic", 0, 0, 1<<20, 1<<20), kerr.UnknownTopicOrPartition},
		{"partition 1 of a 1-partition topic", fetchReq("data", 1, 0, 1<<20, 1<<20), kerr.UnknownTopicOrPartition},
		{"partition -1", fetchReq("data", -1, 0, 1<<20, 1<<20), kerr.UnknownTopicOrPartition},
		{"unknown topic id (v13)", byID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}), kerr.UnknownTopicID},
		{"zero topic id (v13)", byID([16]byte{}), kerr.UnknownTopicID},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fetchPartition(t, rt[*kmsg.FetchResponse](t, c, tc.req))
			if p.ErrorCode != tc.want.Code {
				t.Fatalf("error %s, want %s", codeName(p.ErrorCode), codeName(tc.want.Code))
			}
			if len(p.RecordBatches) != 0 {
				t.Errorf("%d record bytes with an error", len(p.RecordBatches))
			}
			checkLog(t, c, "data", 0, []string{"d0", "d1", "d2"})
			serving(t, b)
		})
	}

	t.Run("offset at the log end is empty, not an error", func(t *testing.T) {
		p := fetch(t, c, "data", 0, 3)
		if p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 3 {
			t.Fatalf("error %s, %d bytes, high watermark %d; want none, 0, 3", codeName(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
		}
	})
	t.Run("topic id from Metadata (v13)", func(t *testing.T) {
		md := rt[*kmsg.MetadataResponse](t, c, metadataReq("data"))
		p := fetchPartition(t, rt[*kmsg.FetchResponse](t, c, byID(md.Topics[0].TopicID)))
		if got := decode(t, p.RecordBatches); p.ErrorCode != 0 || len(got) != 3 || got[2].Value != "d2" {
			t.Fatalf("error %s, records %+v", codeName(p.ErrorCode), got)
		}
	})
}

// TestFetchOversizedFirstBatch is KIP-74: a batch larger than both the
// response and the partition byte limits still comes back whole, or a
// consumer would stall on it. Sent through franz-go's raw Request.
func TestFetchOversizedFirstBatch(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := dial(t, b.Addr())
	createTopic(t, c, "big", 1)
	small := strings.Repeat("s", 100)
	large := strings.Repeat("L", 150<<10) // keys repeat values: a 600 KB batch
	produceOK(t, c, "big", 0, plainBatch(t, small), 0)
	produceOK(t, c, "big", 0, plainBatch(t, large, large), 1)
	produceOK(t, c, "big", 0, plainBatch(t, small), 3)
	md := rt[*kmsg.MetadataResponse](t, c, metadataReq("big"))

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, tc := range []struct {
		name              string
		offset            int64
		maxBytes, partMax int32
		want              []string
	}{
		// From offset 1 the first batch is 600 KB, against limits of 1 KB.
		{"both limits below the batch", 1, 1024, 1024, []string{large, large}},
		{"zero limits", 1, 0, 0, []string{large, large}},
		// From offset 0 the small batch fits, and the large one is past
		// the limit: only the first batch returns.
		{"first batch fits, next does not", 0, 1024, 1024, []string{small}},
		// From offset 2, inside the large batch: the whole batch comes
		// back (batches are never split), and the consumer skips offset 1.
		{"offset inside the large batch", 2, 1024, 1024, []string{large, large}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq("big", 0, tc.offset, tc.maxBytes, tc.partMax)
			req.Topics[0].TopicID = md.Topics[0].TopicID // for v13+, as franz-go picks the version
			resp, err := cl.Request(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			p := fetchPartition(t, resp.(*kmsg.FetchResponse))
			if p.ErrorCode != 0 {
				t.Fatalf("error %s", codeName(p.ErrorCode))
			}
			got := decode(t, p.RecordBatches)
			var values []string
			for _, r := range got {
				values = append(values, r.Value)
			}
			if strings.Join(values, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("fetched %d records (%d bytes), want %d", len(got), len(p.RecordBatches), len(tc.want))
			}
		})
	}
	serving(t, b)
}
