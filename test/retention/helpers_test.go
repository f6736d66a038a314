package retention

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// fast makes retention run every 100ms and deleted segments go at once,
// so a test sees retention act within a fraction of a second.
var fast = []string{"log.retention.check.interval.ms=100", "log.segment.delete.delay.ms=0"}

// testCtx bounds one test's client calls and waits; a broker that stops
// answering fails the test at the deadline instead of hanging the package.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// client is a producer that sends each ProduceSync's records as one batch,
// with an admin client on the same connection pool.
type client struct {
	*kgo.Client
	adm *kadm.Client
}

func newClient(t testing.TB, b *cluster.Broker, opts ...kgo.Opt) *client {
	t.Helper()
	cl := newKgo(t, b.Addr(), append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression())}, opts...)...)
	return &client{cl, kadm.NewClient(cl)}
}

func (c *client) createTopic(ctx context.Context, t testing.TB, topic string, partitions int32, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := c.adm.CreateTopic(ctx, partitions, 1, cfg, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// setConfig sets one topic config on the live topic.
func (c *client) setConfig(ctx context.Context, t testing.TB, topic, key, value string) {
	t.Helper()
	resps, err := c.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: &value}}, topic)
	if err == nil {
		err = resps[0].Err
	}
	if err != nil {
		t.Fatalf("set %s=%s on %s: %v", key, value, topic, err)
	}
}

// valueSize makes a one-record batch 170 bytes: six fill a 1024-byte
// segment.
const valueSize = 100

// value is the value of the record at offset off: the offset in decimal,
// padded, so that a reader can check that every record it gets is the one
// it asked for.
func value(off int64) []byte {
	v := []byte(fmt.Sprintf("%020d|", off))
	return append(v, bytes.Repeat([]byte{'x'}, valueSize-len(v))...)
}

func checkValue(off int64, v []byte) error {
	if !bytes.Equal(v, value(off)) {
		return fmt.Errorf("record at offset %d holds %.24q", off, v)
	}
	return nil
}

// produce appends records with the given timestamp to one partition, one
// record per batch, each valued for the offset it is expected to get.
func (c *client) produce(ctx context.Context, t testing.TB, topic string, partition int32, n int, ts time.Time) {
	t.Helper()
	next := c.endOffset(ctx, t, topic, partition)
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: partition, Value: value(next + int64(i)), Timestamp: ts}
		if err := c.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce to %s-%d: %v", topic, partition, err)
		}
		if r.Offset != next+int64(i) {
			t.Fatalf("produced at offset %d, want %d", r.Offset, next+int64(i))
		}
	}
}

// offsets lists the log start offset and high watermark of a partition.
func (c *client) offsets(ctx context.Context, topic string, partition int32) (start, hw int64, err error) {
	var res [2]int64
	for i, list := range []func(context.Context, ...string) (kadm.ListedOffsets, error){c.adm.ListStartOffsets, c.adm.ListEndOffsets} {
		l, err := list(ctx, topic)
		if err != nil {
			return -1, -1, err
		}
		o, ok := l.Lookup(topic, partition)
		if !ok {
			return -1, -1, fmt.Errorf("list offsets: no answer for %s-%d", topic, partition)
		}
		if o.Err != nil {
			return -1, -1, fmt.Errorf("list offsets of %s-%d: %w", topic, partition, o.Err)
		}
		res[i] = o.Offset
	}
	return res[0], res[1], nil
}

// startOffset is what ListOffsets answers for the earliest offset.
func (c *client) startOffset(ctx context.Context, t testing.TB, topic string, partition int32) int64 {
	t.Helper()
	start, _, err := c.offsets(ctx, topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	return start
}

// endOffset is the high watermark, as ListOffsets answers for latest.
func (c *client) endOffset(ctx context.Context, t testing.TB, topic string, partition int32) int64 {
	t.Helper()
	_, hw, err := c.offsets(ctx, topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	return hw
}

// broker is the one broker, for requests that must reach it as they are
// (kgo would otherwise split them by partition leader, or answer a request
// for an unknown topic itself).
func (c *client) broker(ctx context.Context, t testing.TB) *kgo.Broker {
	t.Helper()
	md, err := c.adm.BrokerMetadata(ctx)
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("broker metadata: %v, %d brokers", err, len(md.Brokers))
	}
	return c.Broker(int(md.Brokers[0].NodeID))
}

// fetcher sends Fetch requests for one partition straight to the broker
// and checks every batch it gets back.
type fetcher struct {
	br        *kgo.Broker
	topic     string
	id        [16]byte
	partition int32
}

func (c *client) fetcher(ctx context.Context, t testing.TB, topic string, partition int32) *fetcher {
	t.Helper()
	tds, err := c.adm.ListTopics(ctx, topic)
	if err != nil || tds[topic].Err != nil {
		t.Fatalf("metadata of %s: %v, %v", topic, err, tds[topic].Err)
	}
	return &fetcher{br: c.broker(ctx, t), topic: topic, id: tds[topic].ID, partition: partition}
}

// fetch reads from offset, up to maxBytes, without waiting for data.
// Topic name and id are both set: kgo picks the version, and Fetch v13+
// names topics by id only.
func (f *fetcher) fetch(ctx context.Context, offset int64, maxBytes int32) (kmsg.FetchResponseTopicPartition, error) {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = f.topic, f.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = f.partition, offset, maxBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := f.br.Request(ctx, req)
	if err != nil {
		return kmsg.FetchResponseTopicPartition{}, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch: %w", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return kmsg.FetchResponseTopicPartition{}, fmt.Errorf("fetch: response for %d topics", len(resp.Topics))
	}
	return resp.Topics[0].Partitions[0], nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkBatches checks the record bytes of a fetch from offset from: whole
// batches of magic 2 with a valid CRC32C, the first starting at from and
// each following on, every record holding value(its offset). A partial
// batch may end the bytes (the fetch size cut it; clients drop it), but
// there must be a whole one before it (KIP-74). It returns the offset
// after the last whole batch and how many whole batches there were.
func checkBatches(b []byte, from int64) (next int64, batches int, err error) {
	next = from
	for len(b) >= 12 {
		size := 12 + int64(binary.BigEndian.Uint32(b[8:12]))
		if int64(len(b)) < size {
			break
		}
		raw := b[:size]
		b = b[size:]
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(raw); err != nil {
			return next, batches, fmt.Errorf("batch at %d: %w", next, err)
		}
		switch {
		case rb.Magic != 2:
			return next, batches, fmt.Errorf("batch at %d: magic %d", next, rb.Magic)
		case crc32.Checksum(raw[21:], castagnoli) != uint32(rb.CRC):
			return next, batches, fmt.Errorf("batch at %d: CRC mismatch: corrupt", rb.FirstOffset)
		case rb.FirstOffset != next:
			return next, batches, fmt.Errorf("batch starts at offset %d, want %d", rb.FirstOffset, next)
		case rb.Attributes&0x07 != 0:
			return next, batches, fmt.Errorf("batch at %d: compressed (attributes %#x); the tests produce uncompressed", next, rb.Attributes)
		}
		recs := rb.Records
		for range rb.NumRecords {
			l, n := binary.Varint(recs)
			if n <= 0 || int64(len(recs)-n) < l {
				return next, batches, fmt.Errorf("batch at %d: truncated record", next)
			}
			var r kmsg.Record
			if err := r.ReadFrom(recs[:n+int(l)]); err != nil {
				return next, batches, fmt.Errorf("batch at %d: record: %w", next, err)
			}
			recs = recs[n+int(l):]
			if err := checkValue(rb.FirstOffset+int64(r.OffsetDelta), r.Value); err != nil {
				return next, batches, err
			}
		}
		if len(recs) != 0 {
			return next, batches, fmt.Errorf("batch at %d: %d bytes after its %d records", next, len(recs), rb.NumRecords)
		}
		next = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
		batches++
	}
	if batches == 0 && len(b) > 0 {
		return next, 0, fmt.Errorf("fetch at %d: %d bytes and no whole batch (KIP-74)", from, len(b))
	}
	return next, batches, nil
}

// layout is what a partition's directory holds: the base offset and size
// of each segment's .log file, ascending (the last is the active one),
// and the *.deleted files, sorted.
type layout struct {
	bases, sizes []int64
	deleted      []string
}

func (l layout) String() string {
	return fmt.Sprintf("segments %v sizes %v deleted %v", l.bases, l.sizes, l.deleted)
}

// from is the layout's segments from base on (base must be one of them).
func (l layout) from(base int64) layout {
	i := slices.Index(l.bases, base)
	return layout{bases: l.bases[i:], sizes: l.sizes[i:]}
}

func (l layout) equal(o layout) bool {
	return slices.Equal(l.bases, o.bases) && slices.Equal(l.sizes, o.sizes) && slices.Equal(l.deleted, o.deleted)
}

// readLayout lists a partition's directory. It may fail while the broker
// renames files under it; callers that poll retry.
func readLayout(dataDir, topic string, partition int32) (layout, error) {
	dir := filepath.Join(dataDir, topic+"-"+strconv.Itoa(int(partition)))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return layout{}, err
	}
	var l layout
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, ".deleted"):
			l.deleted = append(l.deleted, name)
		case strings.HasSuffix(name, ".log") && len(name) == 24:
			base, err := strconv.ParseInt(name[:20], 10, 64)
			if err != nil {
				return layout{}, fmt.Errorf("%s: %w", name, err)
			}
			fi, err := e.Info()
			if err != nil {
				return layout{}, err
			}
			l.bases = append(l.bases, base)
			l.sizes = append(l.sizes, fi.Size())
		}
	}
	return l, nil // ReadDir sorts by name, and names sort by offset
}

func mustLayout(t testing.TB, dataDir, topic string, partition int32) layout {
	t.Helper()
	l, err := readLayout(dataDir, topic, partition)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// waitFor polls cond every 20ms until it holds, failing the test with
// cond's last report if ctx ends first.
func waitFor(ctx context.Context, t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; last seen: %s", what, ctx.Err(), state)
		case <-tick.C:
		}
	}
}

// holds checks that cond stays true for d, polling; it is how a test sees
// that retention, which runs every 100ms, leaves something alone.
func holds(ctx context.Context, t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, state := cond(); !ok {
			t.Fatalf("%s no longer holds: %s", what, state)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("checking %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
