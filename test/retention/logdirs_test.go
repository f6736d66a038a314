package retention

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"golang.org/x/sys/unix"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// describeLogDirs sends a DescribeLogDirs request straight to the broker
// at version v (kgo picks the highest both sides serve, and this client
// serves up to v).
func describeLogDirs(ctx context.Context, t testing.TB, b *cluster.Broker, v int16, topics []kmsg.DescribeLogDirsRequestTopic) *kmsg.DescribeLogDirsResponse {
	t.Helper()
	vs := kversion.Stable()
	vs.SetMaxKeyVersion(35, v)
	c := newClient(t, b, kgo.MaxVersions(vs))
	req := kmsg.NewPtrDescribeLogDirsRequest()
	req.Topics = topics
	kresp, err := c.broker(ctx, t).Request(ctx, req)
	if err != nil {
		t.Fatalf("DescribeLogDirs v%d: %v", v, err)
	}
	resp := kresp.(*kmsg.DescribeLogDirsResponse)
	if resp.Version != v {
		t.Fatalf("DescribeLogDirs answered at v%d, want v%d", resp.Version, v)
	}
	return resp
}

// dirContents renders a response's dirs as "dir: topic/partition=size ..."
// lines, failing on fields samsa must set the same way for every
// partition.
func dirContents(t testing.TB, resp *kmsg.DescribeLogDirsResponse) string {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("DescribeLogDirs: error code %d", resp.ErrorCode)
	}
	s := ""
	for _, d := range resp.Dirs {
		if d.ErrorCode != 0 {
			t.Fatalf("DescribeLogDirs: dir %s: error code %d", d.Dir, d.ErrorCode)
		}
		s += d.Dir + ":"
		for _, tp := range d.Topics {
			for _, p := range tp.Partitions {
				if p.OffsetLag != 0 || p.IsFuture {
					t.Fatalf("DescribeLogDirs: %s-%d: offset lag %d, future %v; want 0, false", tp.Topic, p.Partition, p.OffsetLag, p.IsFuture)
				}
				s += fmt.Sprintf(" %s/%d=%d", tp.Topic, p.Partition, p.Size)
			}
		}
		s += "\n"
	}
	return s
}

// TestDescribeLogDirs: one log dir, the data dir, holding each requested
// partition (null: all) with the size of its segments on disk; v4 adds
// the volume's total and usable bytes. Every version is served.
func TestDescribeLogDirs(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	b := cluster.Start(t)
	c := newClient(t, b)
	c.createTopic(ctx, t, "sizes", 2, map[string]string{"segment.bytes": "1024"})
	c.createTopic(ctx, t, "other", 1, nil)
	c.produce(ctx, t, "sizes", 0, 20, time.Now())
	c.produce(ctx, t, "sizes", 1, 7, time.Now())
	size := func(topic string, p int32) int64 {
		var n int64
		for _, s := range mustLayout(t, b.Dir, topic, p).sizes {
			n += s
		}
		return n
	}
	if s := size("sizes", 0); s != 20*170 {
		t.Fatalf("sizes-0 holds %d bytes on disk, want 20 batches of 170", s)
	}
	all := fmt.Sprintf("%s: other/0=0 sizes/0=%d sizes/1=%d\n", b.Dir, size("sizes", 0), size("sizes", 1))

	var fs unix.Statfs_t
	if err := unix.Statfs(b.Dir, &fs); err != nil {
		t.Fatal(err)
	}
	for v := int16(0); v <= 4; v++ {
		resp := describeLogDirs(ctx, t, b, v, nil)
		if got := dirContents(t, resp); got != all {
			t.Fatalf("v%d, all topics:\n%s\nwant\n%s", v, got, all)
		}
		if v < 4 {
			continue // the volume's sizes are v4+
		}
		// The volume's size is fixed; what is free moves with every
		// writer on the machine.
		d := resp.Dirs[0]
		if total := int64(fs.Blocks) * int64(fs.Bsize); d.TotalBytes != total || d.UsableBytes <= 0 || d.UsableBytes > total {
			t.Fatalf("v%d: total %d, usable %d bytes; want total %d, usable in (0, total]", v, d.TotalBytes, d.UsableBytes, total)
		}
	}

	filtered := []kmsg.DescribeLogDirsRequestTopic{
		{Topic: "sizes", Partitions: []int32{1, 9, 1}},
		{Topic: "nope", Partitions: []int32{0}},
	}
	if got, want := dirContents(t, describeLogDirs(ctx, t, b, 4, filtered)), fmt.Sprintf("%s: sizes/1=%d\n", b.Dir, size("sizes", 1)); got != want {
		t.Fatalf("filtered:\n%s\nwant\n%s", got, want)
	}
	// An empty list, unlike null, asks for nothing.
	if got, want := dirContents(t, describeLogDirs(ctx, t, b, 4, []kmsg.DescribeLogDirsRequestTopic{})), b.Dir+":\n"; got != want {
		t.Fatalf("empty topics:\n%s\nwant\n%s", got, want)
	}
}
