package console

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Paging bounds: a page shows at most maxPageRecords records and reads at
// most scanBudget records per page however selective the filter, and the
// fetches ask for at most fetchMaxBytes; so a page never reads a whole
// partition, and the next page goes on from where this one stopped.
const (
	defaultPageRecords = 50
	maxPageRecords     = 500
	scanFactor         = 20 // records read per record shown, at most
	maxScanBudget      = 10000
	fetchMaxBytes      = 4 << 20
	fetchWait          = 3 * time.Second
	maxShownBytes      = 16 << 10 // of a key or value; longer ones are cut
)

type messageRow struct {
	Partition int32
	Offset    int64
	Timestamp string
	Key       string
	Value     string
	KeyNull   bool
	ValueNull bool
	Headers   []headerRow
	Cut       bool
}

type headerRow struct{ Key, Value string }

type messagesData struct {
	Topic      string
	Partitions []int32
	// The query as given.
	Partition, From, Offset, Timestamp, KeyFilter, ValueFilter, Render string
	Limit                                                              int
	Rows                                                               []messageRow
	Scanned                                                            int
	Next                                                               string // the next page's URL, "" at the end
	Err                                                                string
	AtEnd                                                              bool
}

// renderings of keys and values.
var renderings = []string{"text", "json", "hex", "base64"}

// messages is the message browser: records from the start, the end, an
// offset or a timestamp, of one partition or all, filtered by key or
// value substring, one bounded page at a time.
func (c *Console) messages(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	q := r.URL.Query()
	d := messagesData{Topic: topic, Partition: q.Get("partition"), From: q.Get("from"), Offset: q.Get("offset"),
		Timestamp: q.Get("timestamp"), KeyFilter: q.Get("key"), ValueFilter: q.Get("value"), Render: q.Get("render"), Limit: defaultPageRecords}
	if d.From == "" {
		d.From = "start"
	}
	if d.Partition == "" {
		d.Partition = "all"
	}
	if !slices.Contains(renderings, d.Render) {
		d.Render = "text"
	}
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		d.Limit = min(l, maxPageRecords)
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	md, err := c.adm.Metadata(ctx, topic)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("topic %q: %w", topic, kerr.UnknownTopicOrPartition))
		return
	}
	d.Partitions = t.Partitions.Numbers()
	slices.Sort(d.Partitions)
	if err := c.browse(ctx, &d, q); err != nil {
		d.Err = err.Error()
	}
	c.render(w, r, http.StatusOK, "messages", "Messages of "+topic, "topics", d)
}

// browse reads one page into d.
func (c *Console) browse(ctx context.Context, d *messagesData, q url.Values) error {
	parts := d.Partitions
	if d.Partition != "all" {
		p, err := strconv.ParseInt(d.Partition, 10, 32)
		if err != nil || !slices.Contains(parts, int32(p)) {
			return fmt.Errorf("partition %q: %w", d.Partition, kerr.UnknownTopicOrPartition)
		}
		parts = []int32{int32(p)}
	}
	starts, err := c.adm.ListStartOffsets(ctx, d.Topic)
	if err != nil {
		return err
	}
	ends, err := c.adm.ListEndOffsets(ctx, d.Topic)
	if err != nil {
		return err
	}
	// from: where each partition's page begins. A cursor (the next-page
	// link) names it per partition.
	from := map[int32]int64{}
	end := map[int32]int64{}
	for _, p := range parts {
		s, ok1 := starts.Lookup(d.Topic, p)
		e, ok2 := ends.Lookup(d.Topic, p)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			return fmt.Errorf("partition %d: offsets unavailable: %v %v", p, s.Err, e.Err)
		}
		end[p] = e.Offset
		from[p] = s.Offset
	}
	if cur := q.Get("cursor"); cur != "" {
		next, err := parseCursor(cur)
		if err != nil {
			return err
		}
		for p, o := range next {
			if _, known := from[p]; known {
				from[p] = min(max(o, from[p]), end[p])
			}
		}
	} else {
		switch d.From {
		case "start":
		case "end":
			// The last page: Limit records back from the end of each
			// partition (of all of them together, roughly).
			per := int64(d.Limit)
			if len(parts) > 1 {
				per = max(1, per/int64(len(parts)))
			}
			for p := range from {
				from[p] = max(from[p], end[p]-per)
			}
		case "offset":
			o, err := strconv.ParseInt(strings.TrimSpace(d.Offset), 10, 64)
			if err != nil || o < 0 {
				return fmt.Errorf("offset %q: want a number >= 0", d.Offset)
			}
			for p := range from {
				from[p] = min(max(o, from[p]), end[p])
			}
		case "timestamp":
			ms, err := parseTimestamp(d.Timestamp)
			if err != nil {
				return err
			}
			after, err := c.adm.ListOffsetsAfterMilli(ctx, ms, d.Topic)
			if err != nil {
				return err
			}
			for p := range from {
				if o, ok := after.Lookup(d.Topic, p); ok && o.Err == nil && o.Offset >= 0 {
					from[p] = max(o.Offset, from[p])
				} else {
					from[p] = end[p] // nothing at or after that time
				}
			}
		default:
			return fmt.Errorf("from %q: want start, end, offset or timestamp", d.From)
		}
	}
	next := map[int32]int64{}
	want := map[string]map[int32]kgo.Offset{d.Topic: {}}
	for _, p := range parts {
		next[p] = from[p]
		if from[p] < end[p] {
			want[d.Topic][p] = kgo.NewOffset().At(from[p])
		}
	}
	if len(want[d.Topic]) > 0 {
		if err := c.scan(ctx, d, want, end, next); err != nil {
			return err
		}
	}
	// The rows of several partitions come in fetch order; show them by
	// timestamp-ish order of partition then offset, as a table reads.
	slices.SortStableFunc(d.Rows, func(a, b messageRow) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	var cursor []string
	d.AtEnd = true
	for _, p := range parts {
		if next[p] < end[p] {
			d.AtEnd = false
		}
		cursor = append(cursor, fmt.Sprintf("%d:%d", p, next[p]))
	}
	if !d.AtEnd {
		nq := url.Values{}
		for k, v := range q {
			nq[k] = v
		}
		nq.Set("cursor", strings.Join(cursor, ","))
		d.Next = "/topics/" + url.PathEscape(d.Topic) + "/messages?" + nq.Encode()
	}
	return nil
}

// parseCursor reads a next-page cursor: "partition:offset" pairs, comma
// separated.
func parseCursor(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, part := range strings.Split(s, ",") {
		ps, os, ok := strings.Cut(part, ":")
		p, err1 := strconv.ParseInt(ps, 10, 32)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if !ok || err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, fmt.Errorf("bad cursor %q", s)
		}
		out[int32(p)] = o
	}
	return out, nil
}

// scan consumes from the offsets in want until the page is full, the scan
// budget is spent or every partition is read to its end (as of the
// start), advancing next past what it read.
func (c *Console) scan(ctx context.Context, d *messagesData, want map[string]map[int32]kgo.Offset, end, next map[int32]int64) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.o.Bootstrap...),
		kgo.ClientID("samsa-console-browser"),
		kgo.ConsumePartitions(want),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxBytes / 4),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, c.o.KgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	budget := min(d.Limit*scanFactor, maxScanBudget)
	keyF, valF := []byte(d.KeyFilter), []byte(d.ValueFilter)
	done := func() bool {
		if len(d.Rows) >= d.Limit || d.Scanned >= budget {
			return true
		}
		for p, o := range next {
			if _, reading := want[d.Topic][p]; reading && o < end[p] {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(fetchWait)
	for !done() {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := cl.PollRecords(pctx, budget-d.Scanned)
		cancel()
		if pctx.Err() != nil && fs.NumRecords() == 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			break // nothing more within the wait: show what there is
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("partition %d: %w", p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		for _, rec := range fs.Records() {
			if done() || rec.Offset >= end[rec.Partition] || rec.Offset < next[rec.Partition] {
				continue
			}
			d.Scanned++
			next[rec.Partition] = rec.Offset + 1
			if len(keyF) > 0 && !bytes.Contains(rec.Key, keyF) || len(valF) > 0 && !bytes.Contains(rec.Value, valF) {
				continue
			}
			d.Rows = append(d.Rows, rowOf(rec, d.Render))
		}
	}
	return nil
}

func rowOf(rec *kgo.Record, render string) messageRow {
	row := messageRow{Partition: rec.Partition, Offset: rec.Offset,
		Timestamp: rec.Timestamp.UTC().Format("2006-01-02 15:04:05.000"), KeyNull: rec.Key == nil, ValueNull: rec.Value == nil}
	var cut1, cut2 bool
	row.Key, cut1 = renderBytes(rec.Key, render)
	row.Value, cut2 = renderBytes(rec.Value, render)
	row.Cut = cut1 || cut2
	for _, h := range rec.Headers {
		v, _ := renderBytes(h.Value, "text")
		row.Headers = append(row.Headers, headerRow{h.Key, v})
	}
	return row
}

// renderBytes shows b as text (invalid UTF-8 escaped), pretty JSON (text
// when it is not JSON), hex or base64, cut at maxShownBytes.
func renderBytes(b []byte, render string) (string, bool) {
	cut := len(b) > maxShownBytes
	if cut {
		b = b[:maxShownBytes]
	}
	switch render {
	case "hex":
		return hex.EncodeToString(b), cut
	case "base64":
		return base64.StdEncoding.EncodeToString(b), cut
	case "json":
		var out bytes.Buffer
		if !cut && json.Valid(b) && json.Indent(&out, b, "", "  ") == nil {
			return out.String(), false
		}
	}
	if utf8.Valid(b) {
		return string(b), cut
	}
	return strconv.Quote(string(b)), cut
}

// parseTimestamp reads a time as RFC 3339, "2006-01-02 15:04:05" (UTC) or
// Unix milliseconds.
func parseTimestamp(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UnixMilli(), nil
		}
	}
	return 0, fmt.Errorf("timestamp %q: want RFC 3339, 2006-01-02 15:04:05 (UTC) or Unix milliseconds", s)
}

// partitionKey carries a record's chosen partition to the partitioner.
type partitionKey struct{}

// partitioner sends a record to the partition the form named, and
// otherwise partitions as Kafka's default does: keyed records by the
// murmur2 hash of their key, the others anywhere.
func partitioner() kgo.Partitioner {
	keyed := kgo.StickyKeyPartitioner(nil)
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		byKey := keyed.ForTopic(topic)
		return func(r *kgo.Record, n int) int {
			if p, ok := r.Context.Value(partitionKey{}).(int32); ok {
				return int(p)
			}
			if r.Key != nil {
				return byKey.Partition(r, n)
			}
			return rand.IntN(n)
		}
	})
}

// produce writes one record from the form: key (empty is null unless
// asked otherwise), value, headers ("name: value" lines), partition.
func (c *Console) produce(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	back := "/topics/" + url.PathEscape(topic) + "/messages"
	rec := &kgo.Record{Topic: topic, Context: context.Background()}
	if k := r.PostForm.Get("key"); k != "" || r.PostForm.Get("emptyKey") != "" {
		rec.Key = []byte(k)
	}
	if v := r.PostForm.Get("value"); v != "" || r.PostForm.Get("nullValue") == "" {
		rec.Value = []byte(v)
	}
	headers, err := parseLines(r.PostForm.Get("headers"), ":")
	if err != nil {
		redirect(w, r, back, "", err)
		return
	}
	for _, h := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h[0], Value: []byte(h[1])})
	}
	if ps := strings.TrimSpace(r.PostForm.Get("partition")); ps != "" {
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			redirect(w, r, back, "", fmt.Errorf("partition %q: want a number >= 0", ps))
			return
		}
		ctx, cancel := c.ctx(r)
		md, err := c.adm.Metadata(ctx, topic)
		cancel()
		if err == nil {
			if _, ok := md.Topics[topic].Partitions[int32(p)]; !ok {
				err = fmt.Errorf("partition %d: %w", p, kerr.UnknownTopicOrPartition)
			}
		}
		if err != nil {
			redirect(w, r, back, "", err)
			return
		}
		rec.Context = context.WithValue(rec.Context, partitionKey{}, int32(p))
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	if err := c.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		redirect(w, r, back, "", fmt.Errorf("produce: %w", err))
		return
	}
	q := url.Values{"partition": {strconv.Itoa(int(rec.Partition))}, "from": {"offset"}, "offset": {strconv.FormatInt(rec.Offset, 10)}}
	redirect(w, r, back+"?"+q.Encode(), fmt.Sprintf("Produced to partition %d at offset %d.", rec.Partition, rec.Offset), nil)
}
