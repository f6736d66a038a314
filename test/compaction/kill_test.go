package compaction

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestKillDuringCompaction: a broker whose cleaner runs every 10 ms is
// SIGKILLed three times while it compacts a stream of updates. After each
// restart nothing acknowledged is lost: the latest acknowledged value of
// every key is there, every record read back is one that was acknowledged
// at exactly that offset (compaction never moves or invents records), and
// offsets only grow.
func TestKillDuringCompaction(t *testing.T) {
	t.Parallel()
	const topic, keys = "compact-kill", 50
	p := cluster.StartProcess(t, t.TempDir(), "--set", "log.cleaner.backoff.ms=10")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	adm := func() *kadm.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return kadm.NewClient(cl)
	}
	resp, err := adm().CreateTopic(ctx, 1, 1, map[string]*string{
		"cleanup.policy": ptr("compact"), "segment.bytes": ptr("2048"),
		"min.cleanable.dirty.ratio": ptr("0.01"), "delete.retention.ms": ptr("86400000"),
	}, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}

	acked := map[int64]string{}  // offset -> "key=value"
	latest := map[string]int64{} // key -> offset of its latest acknowledged value
	round := 0
	produce := func(n int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0),
			kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		for i := 0; i < n; i++ {
			k := fmt.Sprintf("k%02d", i%keys)
			r := &kgo.Record{Key: []byte(k), Value: []byte(fmt.Sprintf("r%d-%d", round, i))}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			acked[r.Offset] = k + "=" + string(r.Value)
			latest[k] = r.Offset
		}
		round++
	}
	check := func() (read int) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.Addr),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		end := int64(0)
		for off := range acked {
			end = max(end, off+1)
		}
		seen := map[string]bool{}
		last := int64(-1)
		for last < end-1 {
			fs := cl.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatalf("fetch after restart: %v", err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				got := string(r.Key) + "=" + string(r.Value)
				if want, ok := acked[r.Offset]; !ok || want != got {
					t.Fatalf("offset %d holds %q; acknowledged there: %q", r.Offset, got, want)
				}
				if r.Offset <= last {
					t.Fatalf("offset %d after %d", r.Offset, last)
				}
				last = r.Offset
				seen[got] = true
				read++
			})
		}
		for k, off := range latest {
			if !seen[acked[off]] {
				t.Fatalf("latest acknowledged value of %s (%q at offset %d) is gone", k, acked[off], off)
			}
		}
		return read
	}

	read := 0
	for kill := 0; kill < 3; kill++ {
		produce(600)
		p.Kill()
		p.Restart()
		read = check()
	}
	// The cleaner did run between the kills: fewer records remain than
	// were written (the active segment alone holds a few dozen).
	if read >= len(acked)/2 {
		t.Fatalf("%d of %d records remain: the cleaner never compacted", read, len(acked))
	}
}

func ptr(s string) *string { return &s }
