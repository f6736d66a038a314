//go:build external

package external

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// node runs a script of test/external/kafkajs with args.
func node(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	dir := kafkajsDir(t)
	return run(t, dir, nil, tool(t, "node"), append([]string{script}, args...)...)
}

// kafkajsMessage is message(i) of produce.js, rebuilt here.
type kafkajsMessage struct {
	partition int32
	key       []byte
	value     []byte
	timestamp int64
	headers   []kgo.RecordHeader
}

func kafkajsExpected(i int) kafkajsMessage {
	m := kafkajsMessage{partition: int32(i % 3), timestamp: 1650000000000 + int64(i)}
	if i%10 != 9 {
		m.key = []byte(fmt.Sprintf("key-%d", i))
	}
	m.value = []byte(fmt.Sprintf("value-%d|", i) + strings.Repeat("kafkajs ", i%7))
	if i%5 == 4 {
		m.value = []byte{0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, byte(i)}
	}
	if i%11 == 10 {
		m.value = nil
	}
	m.headers = []kgo.RecordHeader{
		{Key: "h-index", Value: []byte(strconv.Itoa(i))},
		{Key: "h-bin", Value: []byte{0xff, 0x00, byte(i)}},
		{Key: "dup", Value: []byte("a")},
		{Key: "dup", Value: []byte("b")},
	}
	return m
}

// TestKafkaJSProduce: produce.js creates a topic with KafkaJS's admin client
// and produces with an idempotent producer (acks -1), half GZIP, half
// uncompressed; franz-go then finds exactly those records at exactly the
// offsets KafkaJS was told.
func TestKafkaJSProduce(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	addr := startBroker(t).Addr()
	const topic, n = "kafkajs-produce", 40
	out := node(t, "produce.js", addr, topic, strconv.Itoa(n))
	var res struct {
		Created bool `json:"created"`
		Sends   []struct {
			Compression string `json:"compression"`
			Results     []struct {
				Partition  int32  `json:"partition"`
				ErrorCode  int16  `json:"errorCode"`
				BaseOffset string `json:"baseOffset"`
			} `json:"results"`
		} `json:"sends"`
		Records []struct {
			I         int   `json:"i"`
			Partition int32 `json:"partition"`
			Offset    int64 `json:"offset"`
		} `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("produce.js output: %v\n%s", err, out)
	}
	if !res.Created {
		t.Errorf("admin.createTopics answered false: the topic existed already?")
	}
	if len(res.Sends) != 2 {
		t.Fatalf("sends = %+v, want 2", res.Sends)
	}
	for _, s := range res.Sends {
		if len(s.Results) != 3 {
			t.Errorf("%s send: %d partition results, want 3: %+v", s.Compression, len(s.Results), s.Results)
		}
		for _, r := range s.Results {
			if r.ErrorCode != 0 {
				t.Errorf("%s send: partition %d error code %d", s.Compression, r.Partition, r.ErrorCode)
			}
		}
	}

	// Where KafkaJS was told each message went must be where it is, densely:
	// partition p holds the messages i with i%3 == p, in order of i.
	if len(res.Records) != n {
		t.Fatalf("produce.js reported %d records, want %d", len(res.Records), n)
	}
	next := map[int32]int64{}
	for k, r := range res.Records {
		if r.I != k || r.Partition != int32(k%3) || r.Offset != next[r.Partition] {
			t.Errorf("produce.js record %d: i %d partition %d offset %d, want i %d partition %d offset %d",
				k, r.I, r.Partition, r.Offset, k, k%3, next[int32(k%3)])
		}
		next[int32(k%3)]++
	}

	recs := consumeAll(t, addr, topic)
	if len(recs) != n {
		t.Fatalf("franz-go read %d records, want %d", len(recs), n)
	}
	// consumeAll orders by partition then offset; index the expectation the same way.
	at := map[[2]int64]int{}
	for _, r := range res.Records {
		at[[2]int64{int64(r.Partition), r.Offset}] = r.I
	}
	pid := recs[0].ProducerID
	for _, r := range recs {
		where := fmt.Sprintf("partition %d offset %d", r.Partition, r.Offset)
		i, ok := at[[2]int64{int64(r.Partition), r.Offset}]
		if !ok {
			t.Errorf("%s: not a record produce.js reported", where)
			continue
		}
		w := kafkajsExpected(i)
		if !eqp(bstr(r.Key), bstr(w.key)) || !eqp(bstr(r.Value), bstr(w.value)) {
			t.Errorf("%s (message %d): key %s value %s, want key %s value %s", where, i,
				showStr(bstr(r.Key)), showStr(bstr(r.Value)), showStr(bstr(w.key)), showStr(bstr(w.value)))
		}
		if !slices.EqualFunc(headersOf(r), headersOf(&kgo.Record{Headers: w.headers}), eqHeader) {
			t.Errorf("%s (message %d): headers %s, want %s", where, i, showHeaders(headersOf(r)), showHeaders(headersOf(&kgo.Record{Headers: w.headers})))
		}
		if ts := r.Timestamp.UnixMilli(); ts != w.timestamp || r.Attrs.TimestampType() != 0 {
			t.Errorf("%s (message %d): timestamp %d type %d, want CreateTime %d", where, i, ts, r.Attrs.TimestampType(), w.timestamp)
		}
		wantCodec := uint8(0)
		if i < n/2 {
			wantCodec = 1 // gzip
		}
		if c := r.Attrs.CompressionType(); c != wantCodec {
			t.Errorf("%s (message %d): codec %d, want %d", where, i, c, wantCodec)
		}
		if r.ProducerID < 0 || r.ProducerID != pid || r.ProducerEpoch < 0 {
			t.Errorf("%s (message %d): producer id %d epoch %d, want one idempotent producer (id %d)", where, i, r.ProducerID, r.ProducerEpoch, pid)
		}
	}
}

// TestKafkaJSConsume: consume.js (a KafkaJS group consumer) reads exactly
// what franz-go wrote. KafkaJS has no group-less consumer, so this needs the
// group coordinator.
func TestKafkaJSConsume(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	addr := startBroker(t, "group.initial.rebalance.delay.ms=0").Addr()
	checkKafkaJSConsume(t, addr)
}

// TestKafkaJSConsumeScriptOnKfake runs consume.js against franz-go's kfake
// (which has groups), so that the script is known to work before samsa
// grows a group coordinator, and TestKafkaJSConsume's failures, once it
// runs, are samsa's. It tests the tooling, not samsa.
func TestKafkaJSConsumeScriptOnKfake(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	checkKafkaJSConsume(t, c.ListenAddrs()[0])
}

// checkKafkaJSConsume produces a known set with franz-go and checks that
// consume.js returns it exactly.
func checkKafkaJSConsume(t *testing.T, addr string) {
	const topic = "kafkajs-consume"
	createTopic(t, addr, topic, 2)
	const base = int64(1_660_000_000_000)
	var recs []*kgo.Record
	for i := range 12 {
		r := &kgo.Record{Topic: topic, Partition: int32(i % 2), Timestamp: time.UnixMilli(base + int64(i)*7),
			Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d-\x00\xff", i)),
			Headers: []kgo.RecordHeader{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "dup", Value: []byte("x")}, {Key: "dup", Value: []byte("y")}}}
		switch i {
		case 3:
			r.Key = nil
		case 4:
			r.Value = nil
		case 5:
			r.Key, r.Value = []byte{}, []byte{}
		}
		recs = append(recs, r)
	}
	produce(t, addr, recs)

	out := node(t, "consume.js", addr, topic, strconv.Itoa(len(recs)), "kafkajs-consume-group")
	type jsRecord struct {
		Partition int32      `json:"partition"`
		Offset    int64      `json:"offset"`
		Timestamp int64      `json:"timestamp"`
		Key       *string    `json:"key"`
		Value     *string    `json:"value"`
		Headers   []jsHeader `json:"headers"`
	}
	var res struct {
		Records   []jsRecord      `json:"records"`
		Committed map[int32]int64 `json:"committed"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("consume.js output: %v\n%s", err, out)
	}
	b64 := func(b []byte) *string {
		if b == nil {
			return nil
		}
		return str(base64.StdEncoding.EncodeToString(b))
	}
	got := map[int32][]string{}
	for _, r := range res.Records {
		got[r.Partition] = append(got[r.Partition], fmt.Sprintf("%d|%d|%d|%s|%s|%s", r.Partition, r.Offset, r.Timestamp,
			showStr(r.Key), showStr(r.Value), showJSHeaders(r.Headers)))
	}
	want := map[int32][]string{}
	for _, r := range recs {
		off := len(want[r.Partition])
		// KafkaJS groups a message's headers by key (duplicates become an
		// array), which consume.js flattens back: here that order is i, dup, dup.
		var hs []jsHeader
		for _, h := range r.Headers {
			hs = append(hs, jsHeader{h.Key, b64(h.Value)})
		}
		want[r.Partition] = append(want[r.Partition], fmt.Sprintf("%d|%d|%d|%s|%s|%s", r.Partition, off, r.Timestamp.UnixMilli(),
			showStr(b64(r.Key)), showStr(b64(r.Value)), showJSHeaders(hs)))
	}
	equalLines(t, got, want)
	// What the group committed, read back with KafkaJS's admin client, is
	// the end of each partition.
	if want := map[int32]int64{0: 6, 1: 6}; !maps.Equal(res.Committed, want) {
		t.Fatalf("committed offsets read back with admin.fetchOffsets: %v, want %v", res.Committed, want)
	}
}

// jsHeader is a header as consume.js prints it (value in base64, or null).
type jsHeader struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func showJSHeaders(hs []jsHeader) string {
	var s []string
	for _, h := range hs {
		s = append(s, fmt.Sprintf("%q=%s", h.Key, showStr(h.Value)))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// TestKafkaJSTransactions: KafkaJS's transactional producer (txn.js)
// commits two transactions, one with sendOffsets, aborts one, and is
// fenced by a second producer of its transactional id. A read_committed
// reader sees exactly the committed transactions' records, in the order
// sent per partition; read_uncommitted sees the aborted ones too; the
// group's offsets are those sendOffsets committed.
func TestKafkaJSTransactions(t *testing.T) {
	tool(t, "node")
	kafkajsDir(t)
	addr := startBroker(t).Addr()
	const topic, group = "kafkajs-txn", "kafkajs-txn-group"
	out := node(t, "txn.js", addr, topic, group)
	var res struct {
		Values map[string][]string `json:"values"`
		Fenced *string             `json:"fenced"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("txn.js output %q: %v", out, err)
	}
	if res.Fenced == nil || (*res.Fenced != "PRODUCER_FENCED" && *res.Fenced != "INVALID_PRODUCER_EPOCH") {
		t.Fatalf("the fenced producer's error: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", showStr(res.Fenced))
	}
	// Message i of a transaction went to partition i % 3.
	byPartition := func(txns ...string) map[int32][]string {
		want := map[int32][]string{}
		for _, txn := range txns {
			for i, v := range res.Values[txn] {
				want[int32(i%3)] = append(want[int32(i%3)], v)
			}
		}
		return want
	}
	if got, want := cluster.ReadTxnTopic(t, addr, topic, 3, kgo.ReadCommitted(), pollTimeout), byPartition("t1", "t3", "t4"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read_committed: %v, want %v", got, want)
	}
	if got, want := cluster.ReadTxnTopic(t, addr, topic, 3, kgo.ReadUncommitted(), pollTimeout), byPartition("t1", "t2", "t3", "t4"); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("read_uncommitted: %v, want %v", got, want)
	}
	if got, want := committed(t, addr, group, topic), map[int32]int64{0: 4, 1: 7}; !maps.Equal(got, want) {
		t.Errorf("offsets committed with the transaction: %v, want %v", got, want)
	}
}
