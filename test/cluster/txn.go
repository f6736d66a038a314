package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sentinelPrefix starts the value of ReadTxnTopic's sentinels, which it
// leaves out of what it returns.
const sentinelPrefix = "ReadTxnTopic-sentinel-"

var sentinels atomic.Int64

// ReadTxnTopic reads every record of topic's partitions [0, partitions)
// on the brokers at addr (comma-separated) from the start with franz-go at
// the given isolation, within timeout, and returns the values in offset
// order per partition. It knows it has read everything by first appending
// a sentinel record (not transactional) to each partition: once every
// sentinel is read, so is everything before it. Call it when no
// transaction is open on the topic, or read_committed waits for that
// transaction to end (and the sentinels of earlier calls are skipped).
func ReadTxnTopic(t testing.TB, addr, topic string, partitions int32, isolation kgo.IsolationLevel, timeout time.Duration) map[int32][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sentinel := fmt.Sprintf("%s%d", sentinelPrefix, sentinels.Add(1))
	seeds := kgo.SeedBrokers(strings.Split(addr, ",")...)
	prod, err := kgo.NewClient(seeds, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for p := range partitions {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(sentinel)}).FirstErr(); err != nil {
			t.Fatalf("read %s: sentinel to partition %d: %v", topic, p, err)
		}
	}
	cl, err := kgo.NewClient(seeds, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(isolation), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[int32][]string{}
	// seen marks the partitions whose sentinel (this read's) has arrived.
	// Only those count: an earlier read's sentinel says nothing about
	// this one's records, and counting it ended a read early, before a
	// partition held back by its last stable offset had returned anything.
	seen := map[int32]bool{}
	arrived := 0
	for arrived < int(partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: sentinels of %d of %d partitions within %v; values so far %v", topic, arrived, partitions, timeout, out)
		}
		for _, fe := range fs.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				t.Fatalf("read %s: partition %d: %v", topic, fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if v := string(r.Value); strings.HasPrefix(v, sentinelPrefix) {
				if v == sentinel && !seen[r.Partition] {
					seen[r.Partition] = true
					arrived++
				}
				return // this read's, or an earlier one's
			}
			if seen[r.Partition] {
				t.Errorf("read %s[%d]: %q at offset %d after the sentinel", topic, r.Partition, r.Value, r.Offset)
			}
			out[r.Partition] = append(out[r.Partition], string(r.Value))
		})
	}
	return out
}
