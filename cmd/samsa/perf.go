package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/perf"
)

// progressEvery is how often the perf commands print a progress line.
const progressEvery = time.Second

func newPerfCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "perf",
		Short: "Load generators: produce and consume throughput, end-to-end latency",
		Long: "Load generators in the spirit of kafka-producer-perf-test and\n" +
			"kafka-consumer-perf-test. Progress lines go to stderr once a second; the\n" +
			"summary goes to stdout, as text or, with --json, as one JSON object on one line.\n" +
			"MB means MiB (2^20 bytes), as in Kafka's tools.",
	}
	cmd.AddCommand(newPerfProduceCmd(), newPerfConsumeCmd(), newPerfE2ECmd())
	return cmd
}

// latencyJSON is the latency part of every --json summary, in milliseconds
// with microsecond resolution. Percentiles are exact nearest-rank values
// over every sample (internal/perf).
type latencyJSON struct {
	Avg  float64 `json:"latency_avg_ms"`
	P50  float64 `json:"latency_p50_ms"`
	P95  float64 `json:"latency_p95_ms"`
	P99  float64 `json:"latency_p99_ms"`
	P999 float64 `json:"latency_p999_ms"`
	Max  float64 `json:"latency_max_ms"`
}

func latencies(s perf.Summary) latencyJSON {
	return latencyJSON{Avg: ms(s.Mean), P50: ms(s.P50), P95: ms(s.P95), P99: ms(s.P99), P999: ms(s.P999), Max: ms(s.Max)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeJSON prints v as one line: the benchmark scripts read the last line
// of stdout.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// reporter calls report every interval on its own goroutine until Stop.
type reporter struct {
	stop, done chan struct{}
	once       sync.Once
}

func startReporter(every time.Duration, report func(now time.Time)) *reporter {
	r := &reporter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				report(now)
			case <-r.stop:
				return
			}
		}
	}()
	return r
}

// Stop stops the reporter and waits for its goroutine, so that no progress
// line is printed after the summary.
// It may be called more than once.
func (r *reporter) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

// checkTopic fails early, with the Kafka error, when the topic does not
// exist: otherwise a producer would retry UNKNOWN_TOPIC_OR_PARTITION for
// every record and a consumer would wait for the topic forever. It also
// opens the connection and loads metadata before any clock starts.
func checkTopic(cmd *cobra.Command, cf *clientFlags, cl *kgo.Client, topic string) error {
	return lookupTopic(cmd, cf, cl, topic, false)
}

// lookupTopic is checkTopic; with create, its Metadata request asks the
// broker to create a missing topic (AllowAutoTopicCreation, Metadata v4+),
// which a broker with auto.create.topics.enable does with its default
// partitions and replication factor, as it does for Kafka's producers.
func lookupTopic(cmd *cobra.Command, cf *clientFlags, cl *kgo.Client, topic string, create bool) error {
	ctx, cancel := cf.adminContext(cmd)
	defer cancel()
	//
	// In a cluster a topic just created through one broker reaches the
	// others' metadata a moment later, so an unknown topic is asked about
	// again for up to topicPropagation before it counts as missing. The
	// request goes out each time: kadm's metadata calls answer from
	// franz-go's cache, which would repeat the first answer.
	unknownUntil := time.Now().Add(topicPropagation)
	for {
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = create
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		terr := error(kerr.UnknownTopicOrPartition)
		for _, t := range resp.Topics {
			if t.Topic != nil && *t.Topic == topic {
				terr = kerr.ErrorForCode(t.ErrorCode)
			}
		}
		if create && errors.Is(terr, kerr.LeaderNotAvailable) {
			// Just created: its leader is being elected, and the
			// producer retries until it is.
			return nil
		}
		if errors.Is(terr, kerr.UnknownTopicOrPartition) && time.Now().Before(unknownUntil) {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
				continue
			}
		}
		if create && errors.Is(terr, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %q: %w; the broker did not create it (auto.create.topics.enable=false?): create it with `samsa topic create %s`",
				topic, terr, topic)
		}
		if terr != nil {
			return fmt.Errorf("topic %q: %w", topic, terr)
		}
		return nil
	}
}

// topicPropagation bounds how long a topic unknown to the broker asked may
// still be on its way there from the controller.
const topicPropagation = 3 * time.Second

type perfProduceOptions struct {
	client     *clientFlags
	producer   *producerFlags
	topic      string
	numRecords int64
	recordSize int
	throughput float64
	json       bool
	// Transactions (as kafka-producer-perf-test --transactional-id): the
	// records go in transactions of txnRecords records each, every one
	// flushed and committed before the next begins.
	transactionalID string
	txnRecords      int64
}

func newPerfProduceCmd() *cobra.Command {
	o := &perfProduceOptions{}
	cmd := &cobra.Command{
		Use:   "produce",
		Short: "Measure producer throughput and latency (like kafka-producer-perf-test)",
		Long: "Produce --num-records records of --record-size random uppercase letters, at\n" +
			"most --throughput records/s. Latency is measured per record from the produce\n" +
			"call to its acknowledgement callback, so it includes time blocked on a full\n" +
			"client buffer, as in kafka-producer-perf-test.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.topic, "topic", "", "topic to produce to (required)")
	fs.Int64Var(&o.numRecords, "num-records", 0, "number of records to produce (required)")
	fs.IntVar(&o.recordSize, "record-size", 100, "value size in bytes")
	fs.Float64Var(&o.throughput, "throughput", -1, "maximum records/s (-1: unlimited)")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object")
	fs.StringVar(&o.transactionalID, "transactional-id", "", "produce in transactions of this transactional id, committing every --transaction-records records")
	fs.Int64Var(&o.txnRecords, "transaction-records", 1000, "records per transaction, with --transactional-id")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("num-records")
	o.producer = addProducerFlags(fs)
	o.client = addClientFlags(fs, "how long a record may wait for delivery, retries included, before it fails")
	return cmd
}

// produceSummary is the --json output of `perf produce`.
type produceSummary struct {
	Test          string  `json:"test"` // "produce"
	Topic         string  `json:"topic"`
	Records       int64   `json:"records"` // acknowledged records
	Errors        int64   `json:"errors"`  // failed records
	Bytes         int64   `json:"bytes"`   // acknowledged value bytes
	RecordSize    int     `json:"record_size"`
	TargetRate    float64 `json:"target_records_per_sec"` // -1: unlimited
	Acks          string  `json:"acks"`
	Compression   string  `json:"compression"`
	Transactions  int64   `json:"transactions"` // committed; 0 without --transactional-id
	ElapsedSec    float64 `json:"elapsed_s"`
	RecordsPerSec float64 `json:"records_per_sec"`
	MBPerSec      float64 `json:"mb_per_sec"`
	latencyJSON
}

func (o *perfProduceOptions) run(cmd *cobra.Command) error {
	if o.numRecords <= 0 {
		return fmt.Errorf("--num-records must be positive, got %d", o.numRecords)
	}
	if o.recordSize < 0 {
		return fmt.Errorf("--record-size must not be negative, got %d", o.recordSize)
	}
	opts, err := o.producer.opts(o.client.timeout)
	if err != nil {
		return err
	}
	if o.transactionalID != "" {
		if o.txnRecords <= 0 {
			return fmt.Errorf("--transaction-records must be positive, got %d", o.txnRecords)
		}
		if o.producer.acks != "all" && o.producer.acks != "-1" {
			return fmt.Errorf("--transactional-id needs --acks all, got %s", o.producer.acks)
		}
		opts = append(opts, kgo.TransactionalID(o.transactionalID), kgo.TransactionTimeout(time.Minute))
	}
	cl, err := o.client.newClient(cmd, append(opts, kgo.DefaultProduceTopic(o.topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkTopic(cmd, o.client, cl, o.topic); err != nil {
		return err
	}

	// One payload for every record, as kafka-producer-perf-test does:
	// random letters compress roughly like text, and kgo only reads
	// record values, so sharing the slice is safe.
	payload := make([]byte, o.recordSize)
	for i := range payload {
		payload[i] = 'A' + byte(rand.IntN(26))
	}

	stderr := &lockedWriter{w: cmd.ErrOrStderr()}
	ctx := cmd.Context()
	// As in `produce`: an interrupt stops sending, but what was sent is
	// still delivered and measured, within the delivery timeout; a
	// cluster that stopped acknowledging ends the run.
	produceCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	d := newDeliveries(stderr, func(*kgo.Record) string { return "record failed" }, cl, o.client.timeout, abandon)
	pacer := perf.NewPacer(o.throughput)

	start := time.Now()
	meter := perf.NewMeter(start, int(o.numRecords))
	// On a terminal a bar replaces the progress lines; elsewhere (a
	// benchmark script's pipe) the lines are kafka-producer-perf-test's.
	bar := newProgressBar(stderr, isTerminal(cmd.ErrOrStderr()), "produce", o.numRecords)
	every := progressEvery
	if bar.enabled {
		every = barRedraw
	}
	rep := startReporter(every, func(now time.Time) {
		if bar.enabled {
			n := d.delivered.Load()
			bar.Set(n, fmt.Sprintf("%.1f records/sec acknowledged", float64(n)/now.Sub(start).Seconds()))
			return
		}
		iv := meter.Interval(now)
		fmt.Fprintf(stderr, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
			iv.Records, iv.RecordsPerSec(), iv.MBPerSec(), ms(iv.MeanLatency), ms(iv.MaxLatency))
	})
	var sent, txns int64
	var txnErr error
	for ; sent < o.numRecords && !d.isStalled(); sent++ {
		if pacer.Wait(ctx) != nil {
			break
		}
		if o.transactionalID != "" && sent%o.txnRecords == 0 {
			if sent > 0 {
				if txnErr = commitTxn(produceCtx, cl, o.client.timeout); txnErr != nil {
					break
				}
				txns++
			}
			if txnErr = cl.BeginTransaction(); txnErr != nil {
				break
			}
		}
		sentAt := time.Now()
		d.produce(produceCtx, cl, &kgo.Record{Value: payload}, func(r *kgo.Record, err error) {
			if err == nil {
				meter.ObserveLatency(len(r.Value), time.Since(sentAt))
			}
			d.promise(r, err)
		})
	}
	if o.transactionalID != "" && txnErr == nil && sent > 0 && !d.isStalled() {
		if txnErr = commitTxn(produceCtx, cl, o.client.timeout); txnErr == nil {
			txns++
		}
	}
	d.finish(cl, abandon, o.client.timeout)
	end := time.Now()
	rep.Stop()
	if bar.enabled {
		n := d.delivered.Load()
		bar.Set(n, fmt.Sprintf("%.1f records/sec acknowledged", float64(n)/end.Sub(start).Seconds()))
		bar.Done()
	}

	s := meter.Summary(end)
	failed := d.failed.Load() + d.unacked.Load()
	out := cmd.OutOrStdout()
	if o.json {
		err = writeJSON(out, produceSummary{
			Test: "produce", Topic: o.topic, Records: s.Records, Errors: failed, Bytes: s.Bytes,
			RecordSize: o.recordSize, TargetRate: o.throughput, Acks: o.producer.acks, Compression: o.producer.compression,
			Transactions: txns, ElapsedSec: s.Elapsed.Seconds(), RecordsPerSec: s.RecordsPerSec(), MBPerSec: s.MBPerSec(),
			latencyJSON: latencies(s),
		})
	} else {
		_, err = fmt.Fprintf(out, "%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, "+
			"%.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.\n",
			s.Records, s.RecordsPerSec(), s.MBPerSec(), ms(s.Mean), ms(s.Max), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.P999))
	}
	return errors.Join(err,
		errIf(txnErr != nil, "transaction %d: %v", txns+1, txnErr),
		d.summary(o.numRecords, o.client.timeout),
		errIf(d.isStalled(), "stopped after sending %d of %d records: the cluster did not acknowledge within --timeout", sent, o.numRecords),
		errIf(sent < o.numRecords && !d.isStalled() && txnErr == nil, "interrupted after %d of %d records", sent, o.numRecords))
}

// commitTxn flushes the open transaction's records and commits it, within
// timeout: franz-go ends a transaction only once its records are flushed.
func commitTxn(ctx context.Context, cl *kgo.Client, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}

func errIf(cond bool, format string, args ...any) error {
	if !cond {
		return nil
	}
	return fmt.Errorf(format, args...)
}

type perfConsumeOptions struct {
	client   *clientFlags
	topic    string
	messages int64
	group    string
	json     bool
}

func newPerfConsumeCmd() *cobra.Command {
	o := &perfConsumeOptions{}
	cmd := &cobra.Command{
		Use:   "consume",
		Short: "Measure consumer throughput (like kafka-consumer-perf-test)",
		Long: "Consume --messages records from the beginning of a topic (or from the group's\n" +
			"committed offsets with --group). Bytes count keys and values. Rates are given\n" +
			"over the whole run and from the first record on, which leaves out connecting,\n" +
			"joining the group and listing offsets.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.topic, "topic", "", "topic to consume (required)")
	fs.Int64Var(&o.messages, "messages", 0, "number of records to consume (required)")
	fs.StringVar(&o.group, "group", "", "consume as a member of this consumer group")
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object")
	_ = cmd.MarkFlagRequired("topic")
	_ = cmd.MarkFlagRequired("messages")
	o.client = addClientFlags(fs, "fail if no record arrives for this long")
	return cmd
}

// consumeSummary is the --json output of `perf consume`.
type consumeSummary struct {
	Test               string  `json:"test"` // "consume"
	Topic              string  `json:"topic"`
	Records            int64   `json:"records"`
	Bytes              int64   `json:"bytes"` // keys + values
	ElapsedSec         float64 `json:"elapsed_s"`
	RecordsPerSec      float64 `json:"records_per_sec"`
	MBPerSec           float64 `json:"mb_per_sec"`
	FirstRecordMs      float64 `json:"first_record_ms"`
	FetchElapsedSec    float64 `json:"fetch_elapsed_s"` // first record to last
	FetchRecordsPerSec float64 `json:"fetch_records_per_sec"`
	FetchMBPerSec      float64 `json:"fetch_mb_per_sec"`
}

func (o *perfConsumeOptions) run(cmd *cobra.Command) error {
	if o.messages <= 0 {
		return fmt.Errorf("--messages must be positive, got %d", o.messages)
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(o.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if o.group != "" {
		opts = append(opts, kgo.ConsumerGroup(o.group))
	}
	start := time.Now()
	cl, err := o.client.newClient(cmd, opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := checkTopic(cmd, o.client, cl, o.topic); err != nil {
		return err
	}

	stderr := cmd.ErrOrStderr()
	meter := perf.NewMeter(start, 0)
	// As in perf produce: a bar on a terminal, the lines elsewhere.
	bar := newProgressBar(stderr, isTerminal(stderr), "consume", o.messages)
	defer bar.Done()
	rep := startReporter(progressEvery, func(now time.Time) {
		if bar.enabled {
			return
		}
		iv := meter.Interval(now)
		fmt.Fprintf(stderr, "%d records consumed, %.1f records/sec (%.2f MB/sec).\n",
			iv.Records, iv.RecordsPerSec(), iv.MBPerSec())
	})
	defer rep.Stop()

	ctx := cmd.Context()
	var count int64
	var first time.Time
	for count < o.messages {
		pollCtx, cancel := context.WithTimeout(ctx, o.client.timeout)
		// Never take more than asked for, so the count is exact.
		fs := cl.PollRecords(pollCtx, int(min(o.messages-count, 1<<30)))
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after %d of %d records", count, o.messages)
		}
		for _, fe := range fs.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) {
				return fmt.Errorf("no record for %v after %d of %d records", o.client.timeout, count, o.messages)
			}
			return fmt.Errorf("fetch %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if first.IsZero() {
				first = time.Now()
			}
			meter.Observe(len(r.Key) + len(r.Value))
			count++
		})
		bar.Set(count, fmt.Sprintf("%.1f records/sec", float64(count)/time.Since(start).Seconds()))
	}
	end := time.Now()
	rep.Stop()

	s := meter.Summary(end)
	fetch := perf.Summary{Records: s.Records, Bytes: s.Bytes, Elapsed: end.Sub(first)}
	firstMs := ms(first.Sub(start))
	out := cmd.OutOrStdout()
	if o.json {
		return writeJSON(out, consumeSummary{
			Test: "consume", Topic: o.topic, Records: s.Records, Bytes: s.Bytes,
			ElapsedSec: s.Elapsed.Seconds(), RecordsPerSec: s.RecordsPerSec(), MBPerSec: s.MBPerSec(),
			FirstRecordMs:   firstMs,
			FetchElapsedSec: fetch.Elapsed.Seconds(), FetchRecordsPerSec: fetch.RecordsPerSec(), FetchMBPerSec: fetch.MBPerSec(),
		})
	}
	_, err = fmt.Fprintf(out, "%d records consumed in %.3f s, %.1f records/sec (%.2f MB/sec); first record after %.1f ms; "+
		"%.1f records/sec (%.2f MB/sec) from the first record on.\n",
		s.Records, s.Elapsed.Seconds(), s.RecordsPerSec(), s.MBPerSec(), firstMs, fetch.RecordsPerSec(), fetch.MBPerSec())
	return err
}
