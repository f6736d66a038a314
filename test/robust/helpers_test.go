package robust

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/record"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// waitFor bounds every wait in these tests; nothing normally comes close.
const waitFor = 15 * time.Second

// healthTopic exists on every test broker; serving produces to it.
const healthTopic = "health"

// Request versions the tests speak: the newest the broker serves for each.
const (
	produceVersion  = 11
	fetchVersion    = 12 // the last that names topics; v13+ uses ids
	metadataVersion = 12
)

// conn is a raw Kafka connection. It writes any bytes, including frames no
// client would send, and decodes responses with kmsg. Its methods take the
// calling (sub)test, so that a subtest using its parent's connection fails
// itself.
type conn struct {
	nc   net.Conn
	corr int32
	f    *kmsg.RequestFormatter
}

func dial(t testing.TB, addr string) *conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &conn{nc: nc, f: kmsg.NewRequestFormatter(kmsg.FormatterClientID("robust"))}
}

// frame encodes req at its version, with the next correlation id.
func (c *conn) frame(req kmsg.Request) ([]byte, int32) {
	c.corr++
	return c.f.AppendRequest(nil, req, c.corr), c.corr
}

func (c *conn) write(t testing.TB, b []byte) {
	t.Helper()
	if err := c.nc.SetWriteDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.nc.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readFrame reads one size-prefixed response frame.
func (c *conn) readFrame() ([]byte, error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(c.nc, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > 256<<20 {
		return nil, fmt.Errorf("response size %d", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.nc, b)
	return b, err
}

// roundTrip sends req and decodes its response.
func (c *conn) roundTrip(t testing.TB, req kmsg.Request) kmsg.Response {
	t.Helper()
	frame, corr := c.frame(req)
	c.write(t, frame)
	b, err := c.readFrame()
	if err != nil {
		t.Fatalf("%s v%d: reading the response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := decodeResponse(b, corr, req.Key() != 18 && req.IsFlexible(), resp); err != nil {
		t.Fatalf("%s v%d: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// decodeResponse checks a response frame's correlation id and decodes its
// body into resp. flexibleHeader is whether the response header carries a
// tag buffer: every flexible response but ApiVersions' does (KIP-511).
func decodeResponse(b []byte, corr int32, flexibleHeader bool, resp kmsg.Response) error {
	if len(b) < 4 {
		return fmt.Errorf("response of %d bytes", len(b))
	}
	if got := int32(binary.BigEndian.Uint32(b)); got != corr {
		return fmt.Errorf("correlation id %d, want %d", got, corr)
	}
	b = b[4:]
	if flexibleHeader {
		if len(b) == 0 || b[0] != 0 {
			return fmt.Errorf("response header tag buffer %x, want 00", b[:min(len(b), 1)])
		}
		b = b[1:]
	}
	return resp.ReadFrom(b)
}

// rt is roundTrip with the response type asserted.
func rt[R kmsg.Response](t testing.TB, c *conn, req kmsg.Request) R {
	t.Helper()
	resp := c.roundTrip(t, req)
	r, ok := resp.(R)
	if !ok {
		t.Fatalf("response is %T", resp)
	}
	return r
}

// expectClosed asserts that the broker closes the connection without
// writing anything: a read ends in EOF or a reset, not data and not a
// timeout (which would mean the broker is waiting for more input).
func (c *conn) expectClosed(t testing.TB) {
	t.Helper()
	if err := c.nc.SetReadDeadline(time.Now().Add(waitFor)); err != nil {
		t.Fatal(err)
	}
	var buf [256]byte
	n, err := c.nc.Read(buf[:])
	switch {
	case n > 0:
		t.Fatalf("expected the broker to close the connection; it wrote %d bytes: %x", n, buf[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		t.Fatalf("expected the broker to close the connection; read: %v", err)
	}
}

// startBroker starts an in-process broker with the given overrides and
// creates healthTopic on it.
func startBroker(t *testing.T, sets ...string) *cluster.Broker {
	t.Helper()
	b := cluster.Start(t, sets...)
	c := dial(t, b.Addr())
	createTopic(t, c, healthTopic, 1)
	c.nc.Close()
	return b
}

// createTopic creates a topic with the given "name=value" configs and
// asserts success.
func createTopic(t testing.TB, c *conn, name string, partitions int32, configs ...string) {
	t.Helper()
	resp := rt[*kmsg.CreateTopicsResponse](t, c, createTopicsReq(false, topicReq(name, partitions, 1, configs...)))
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create topic %s: %+v", name, resp.Topics)
	}
}

func topicReq(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for _, kv := range configs {
		k, v, _ := strings.Cut(kv, "=")
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func createTopicsReq(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version = 7
	req.TimeoutMillis = int32(waitFor / time.Millisecond)
	req.ValidateOnly = validateOnly
	req.Topics = topics
	return req
}

func metadataReq(topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.Version = metadataVersion
	for _, name := range topics {
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, mt)
	}
	return req
}

var healthSeq atomic.Int64

// serving asserts that the broker still works after bad input: a new
// connection has ApiVersions and Metadata answered, and franz-go clients
// produce a record to healthTopic and fetch it back at its offset.
func serving(t testing.TB, b *cluster.Broker) {
	t.Helper()
	c := dial(t, b.Addr())
	av := rt[*kmsg.ApiVersionsResponse](t, c, &kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "robust", ClientSoftwareVersion: "1"})
	if av.ErrorCode != 0 || len(av.ApiKeys) != len(api.Versions()) {
		t.Fatalf("serving: ApiVersions: error %d, %d keys, want 0 and %d", av.ErrorCode, len(av.ApiKeys), len(api.Versions()))
	}
	md := rt[*kmsg.MetadataResponse](t, c, metadataReq(healthTopic))
	if len(md.Brokers) != 1 || len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != 1 {
		t.Fatalf("serving: Metadata: brokers %+v topics %+v", md.Brokers, md.Topics)
	}
	c.nc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	value := fmt.Sprintf("health-%d", healthSeq.Add(1))
	p, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic(healthTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := p.ProduceSync(ctx, kgo.StringRecord(value)).First()
	if err != nil {
		t.Fatalf("serving: produce: %v", err)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{healthTopic: {r.Partition: kgo.NewOffset().At(r.Offset)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("serving: fetch of offset %d: %v", r.Offset, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("serving: fetch %s-%d: %v", topic, p, err) })
		if recs := fs.Records(); len(recs) > 0 {
			if recs[0].Offset != r.Offset || string(recs[0].Value) != value {
				t.Fatalf("serving: fetched offset %d value %q, want %d %q", recs[0].Offset, recs[0].Value, r.Offset, value)
			}
			return
		}
	}
}

// --- record batches ---

// plainOpts are the header fields of a batch from a producer that is not
// idempotent.
func plainOpts() record.BuildOptions {
	return record.BuildOptions{
		ProducerID:           record.NoProducerID,
		ProducerEpoch:        -1,
		BaseSequence:         record.NoSequence,
		BaseTimestamp:        time.Now().UnixMilli(),
		PartitionLeaderEpoch: -1,
	}
}

// recs makes one keyed record per value.
func recs(values ...string) []record.Record {
	out := make([]record.Record, len(values))
	for i, v := range values {
		out[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte("key-" + v), Value: []byte(v)}
	}
	return out
}

// build encodes records as one valid batch.
func build(t testing.TB, codec int, opts record.BuildOptions, records []record.Record) []byte {
	t.Helper()
	b, err := record.BuildBatch(codec, 0, records, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// plainBatch is a valid uncompressed batch holding values.
func plainBatch(t testing.TB, values ...string) []byte {
	return build(t, record.CodecNone, plainOpts(), recs(values...))
}

func produceReq(topic string, partition int32, acks int16, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = produceVersion
	req.Acks = acks
	req.TimeoutMillis = int32(waitFor / time.Millisecond)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produce sends one partition's records and returns that partition's
// answer.
func produce(t testing.TB, c *conn, topic string, partition int32, acks int16, records []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := rt[*kmsg.ProduceResponse](t, c, produceReq(topic, partition, acks, records))
	if len(resp.Topics) != 1 || resp.Topics[0].Topic != topic || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].Partition != partition {
		t.Fatalf("produce %s-%d: malformed response %+v", topic, partition, resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// produceOK produces and asserts success at the wanted base offset.
func produceOK(t testing.TB, c *conn, topic string, partition int32, records []byte, wantBase int64) {
	t.Helper()
	p := produce(t, c, topic, partition, -1, records)
	if p.ErrorCode != 0 || p.BaseOffset != wantBase {
		t.Fatalf("produce %s-%d: error %d (%v) base offset %d, want success at %d", topic, partition, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset, wantBase)
	}
}

func fetchReq(topic string, partition int32, offset int64, maxBytes, partitionMaxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = fetchVersion
	req.ReplicaID = -1
	req.MaxBytes = maxBytes
	req.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = partition, offset, partitionMaxBytes
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

// fetch reads one partition from offset without waiting.
func fetch(t testing.TB, c *conn, topic string, partition int32, offset int64) kmsg.FetchResponseTopicPartition {
	t.Helper()
	return fetchPartition(t, rt[*kmsg.FetchResponse](t, c, fetchReq(topic, partition, offset, 64<<20, 64<<20)))
}

func fetchPartition(t testing.TB, resp *kmsg.FetchResponse) kmsg.FetchResponseTopicPartition {
	t.Helper()
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch: error %d, topics %+v", resp.ErrorCode, resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// fetched is one record as a consumer sees it.
type fetched struct {
	Offset     int64
	Key, Value string
}

// decode splits fetched bytes into batches, checks each one's CRC, and
// returns their records. A partial batch at the end is dropped, as clients
// drop it: Kafka may cut a response inside a batch.
func decode(t testing.TB, raw []byte) []fetched {
	t.Helper()
	batches, err := record.SplitBatches(raw)
	if err != nil && !errors.Is(err, record.ErrShortBatch) {
		t.Fatalf("fetched bytes: %v", err)
	}
	var out []fetched
	for _, b := range batches {
		h, rs, err := record.ReadRecords(b, 0)
		if err != nil {
			t.Fatalf("fetched batch at %d: %v", h.BaseOffset, err)
		}
		if crc := record.ComputeCRC(b); crc != h.CRC {
			t.Fatalf("fetched batch at %d: CRC %08x, computed %08x", h.BaseOffset, h.CRC, crc)
		}
		for _, r := range rs {
			out = append(out, fetched{Offset: h.BaseOffset + int64(r.OffsetDelta), Key: string(r.Key), Value: string(r.Value)})
		}
	}
	return out
}

// checkLog asserts that a partition holds exactly values, at offsets 0 to
// len(values)-1, with the high watermark right after them.
func checkLog(t testing.TB, c *conn, topic string, partition int32, values []string) {
	t.Helper()
	p := fetch(t, c, topic, partition, 0)
	if p.ErrorCode != 0 {
		t.Fatalf("fetch %s-%d: error %d (%v)", topic, partition, p.ErrorCode, kerr.ErrorForCode(p.ErrorCode))
	}
	if p.HighWatermark != int64(len(values)) {
		t.Fatalf("%s-%d: high watermark %d, want %d", topic, partition, p.HighWatermark, len(values))
	}
	got := decode(t, p.RecordBatches)
	if len(got) != len(values) {
		t.Fatalf("%s-%d: fetched %d records, want %d: %+v", topic, partition, len(got), len(values), got)
	}
	for i, r := range got {
		if r.Offset != int64(i) || r.Value != values[i] {
			t.Fatalf("%s-%d: record %d is offset %d value %q, want offset %d value %q", topic, partition, i, r.Offset, r.Value, i, values[i])
		}
	}
}

// codeName is an error code with its name, for failure messages.
func codeName(code int16) string {
	if code == 0 {
		return "0 (none)"
	}
	return fmt.Sprintf("%d (%v)", code, kerr.ErrorForCode(code))
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t testing.TB, what string, cond func() bool, state ...func() string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			var now []string
			for _, f := range state {
				now = append(now, f())
			}
			t.Fatalf("not within %v: %s %v", waitFor, what, now)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
