package crash

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/broker"
	"github.com/samsa-kafka/samsa/internal/config"
	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// waitFor bounds each wait; nothing normally comes close.
const waitFor = 60 * time.Second

// cleanShutdownMarker is the file internal/log writes in a partition
// directory on a clean close (internal/log/recovery.go).
const cleanShutdownMarker = ".samsa-clean-shutdown"

// firstSegment is the log file of a partition's first segment.
func firstSegment(dir, topic string, partition int32) string {
	return filepath.Join(partitionDir(dir, topic, partition), "00000000000000000000.log")
}

func partitionDir(dir, topic string, partition int32) string {
	return filepath.Join(dir, fmt.Sprintf("%s-%d", topic, partition))
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// client is a franz-go client of the broker at addr, closed with the test.
// Close it earlier where the broker stops first: an open consumer's long
// poll holds up a broker's shutdown.
func client(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl := newClient(t, addr, opts...)
	t.Cleanup(cl.Close)
	return cl
}

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func createTopic(t testing.TB, addr, topic string, partitions int32) {
	t.Helper()
	createTopicWith(t, addr, topic, partitions, nil)
}

func createTopicWith(t testing.TB, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(testContext(t), partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// endOffsets lists each partition's log end (its high watermark).
func endOffsets(t testing.TB, addr, topic string) map[int32]int64 {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(testContext(t), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// consume reads each partition of topic from offset from[p] up to
// before to[p], and returns the records by partition. It fails on any
// fetch error and checks that the offsets come densely.
func consume(t testing.TB, addr, topic string, from, to map[int32]int64) map[int32][]*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	want := 0
	for p, end := range to {
		if end > from[p] {
			offsets[p] = kgo.NewOffset().At(from[p])
			want += int(end - from[p])
		}
	}
	out := map[int32][]*kgo.Record{}
	if want == 0 {
		return out
	}
	cl := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	defer cl.Close()
	ctx := testContext(t)
	got := 0
	for got < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: %d of %d records after %v", topic, got, want, waitFor)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consume %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			next := from[r.Partition] + int64(len(out[r.Partition]))
			if r.Offset != next {
				t.Fatalf("%s-%d: offset %d where %d was due: the log has a gap", topic, r.Partition, r.Offset, next)
			}
			if r.Offset >= to[r.Partition] {
				t.Fatalf("%s-%d: offset %d past the end %d", topic, r.Partition, r.Offset, to[r.Partition])
			}
			out[r.Partition] = append(out[r.Partition], r)
			got++
		})
	}
	return out
}

// plainBatch is an uncompressed batch of a producer that is not
// idempotent, holding values.
func plainBatch(t testing.TB, values ...string) []byte {
	t.Helper()
	recs := make([]record.Record, len(values))
	for i, v := range values {
		recs[i] = record.Record{OffsetDelta: int32(i), Key: []byte("k-" + v), Value: []byte(v)}
	}
	b, err := record.BuildBatch(record.CodecNone, 0, recs, record.BuildOptions{
		ProducerID: record.NoProducerID, ProducerEpoch: -1, BaseSequence: record.NoSequence,
		BaseTimestamp: time.Now().UnixMilli(), PartitionLeaderEpoch: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produceBatch sends one batch with acks=all through franz-go's raw
// Request and returns the partition's answer.
func produceBatch(t testing.TB, cl *kgo.Client, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Request(testContext(t), req)
	if err != nil {
		t.Fatalf("produce %s-%d: %v", topic, partition, err)
	}
	pr := resp.(*kmsg.ProduceResponse)
	if len(pr.Topics) != 1 || len(pr.Topics[0].Partitions) != 1 {
		t.Fatalf("produce %s-%d: malformed response %+v", topic, partition, pr.Topics)
	}
	return pr.Topics[0].Partitions[0]
}

// produceOK is produceBatch asserting success at wantBase.
func produceOK(t testing.TB, cl *kgo.Client, topic string, partition int32, batch []byte, wantBase int64) {
	t.Helper()
	p := produceBatch(t, cl, topic, partition, batch)
	if p.ErrorCode != 0 || p.BaseOffset != wantBase {
		t.Fatalf("produce %s-%d: error %d (%v), base offset %d; want success at %d", topic, partition, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, wantBase)
	}
}

// values lists the records' values.
func values(recs []*kgo.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

// inProcess is an in-process broker whose partition logs sit on fs.
type inProcess struct {
	*broker.Broker
	dir  string
	once sync.Once
	err  error
}

// startOn starts an in-process broker on dir with the logs on fs,
// listening on 127.0.0.1 with an OS-chosen port. cluster.Start has no way
// to pass broker.Options, hence this.
func startOn(t testing.TB, dir string, fs log.FS, sets ...string) *inProcess {
	t.Helper()
	cfg, err := config.Load("", sets, map[string]string{"listeners": "127.0.0.1:0", "log.dirs": dir})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	level := slog.LevelError + 1 // injected faults log errors by design
	if os.Getenv("SAMSA_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := broker.Start(cfg, broker.Options{Logger: logger, LogFS: fs})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	ip := &inProcess{Broker: b, dir: dir}
	t.Cleanup(func() { ip.stop() })
	return ip
}

// stop shuts the broker down, once, and returns the result.
func (b *inProcess) stop() error {
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.err = b.Shutdown(ctx)
	})
	return b.err
}

// startProcess is cluster.StartProcess, retried when the broker could not
// bind its port: the harness picks a free port by listening and closing,
// and another socket (a client's ephemeral port) can take it before the
// broker binds it.
func startProcess(t testing.TB, dir string, args ...string) *cluster.Process {
	t.Helper()
	for try := 1; ; try++ {
		p := cluster.StartProcess(t, dir, args...)
		if started(t, p, try) {
			return p
		}
	}
}

// restart is p.Restart, retried as startProcess retries.
func restart(t testing.TB, p *cluster.Process) {
	t.Helper()
	for try := 1; ; try++ {
		p.Restart()
		if started(t, p, try) {
			return
		}
	}
}

// started reports whether p is up, false if it lost its port (to retry),
// and fails the test otherwise.
func started(t testing.TB, p *cluster.Process, try int) bool {
	t.Helper()
	log := p.Log()
	switch {
	case strings.Contains(log, "samsa broker started"):
		return true
	case strings.Contains(log, "address already in use") && try < 5:
		t.Logf("broker lost its port; retrying. Log:\n%s", log)
		return false
	}
	t.Fatalf("broker did not start; log:\n%s", log)
	return false
}

// at is where the broker put a record: its partition and offset.
type at struct {
	partition int32
	offset    int64
}

// checkAcked fails the test unless every acknowledged value (acked: where
// the broker said it put it) is in the log read back (where) at that place.
func checkAcked(t testing.TB, acked, where map[string]at) {
	t.Helper()
	lost := 0
	for v, a := range acked {
		got, ok := where[v]
		switch {
		case !ok:
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged %s at %d/%d is gone", v, a.partition, a.offset)
			}
		case got != a:
			t.Errorf("acknowledged %s at %d/%d is at %d/%d", v, a.partition, a.offset, got.partition, got.offset)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost", lost, len(acked))
	}
}
