package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/perf"
)

// An e2e record's value starts with three big-endian uint64s: the run's
// random id (so records of other runs on the same topic are ignored), the
// record's sequence number, and its send time as nanoseconds since the
// run's base time. The send time is read from the monotonic clock of this
// process, which is also the consumer's: latency cannot be skewed by a wall
// clock step, and needs no clock synchronisation.
const e2eHeaderLen = 24

// e2eWarmupSeq marks the warm-up record: sent and awaited before the timed
// run, so that neither the producer's first request (connections, producer
// id) nor the consumer's first fetch lands in the measured latencies.
const e2eWarmupSeq = math.MaxUint64

type perfE2EOptions struct {
	client     *clientFlags
	producer   *producerFlags
	topic      string
	rate       float64
	duration   time.Duration
	recordSize int
	json       bool
}

func newPerfE2ECmd() *cobra.Command {
	o := &perfE2EOptions{}
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "Measure end-to-end latency (produce to consume) at a fixed rate",
		Long: "Produce rate*duration records at a fixed --rate while consuming the topic\n" +
			"from its end in the same process. Latency is the time from the produce call\n" +
			"to the record's arrival at the consumer. Every acknowledged record must\n" +
			"arrive: the command fails if any is missing after waiting --timeout past the\n" +
			"last acknowledgement, or if any send failed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd) },
	}
	fs := cmd.Flags()
	fs.StringVar(&o.topic, "topic", "", "topic to produce to and consume from (required)")
	fs.Float64Var(&o.rate, "rate", 1000, "records/s to produce")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to produce")
	fs.IntVar(&o.recordSize, "record-size", 100, fmt.Sprintf("value size in bytes (at least %d)", e2eHeaderLen))
	fs.BoolVar(&o.json, "json", false, "print the summary as one JSON object")
	_ = cmd.MarkFlagRequired("topic")
	o.producer = addProducerFlags(fs)
	o.client = addClientFlags(fs, "delivery timeout of each record, and how long to wait for the last records to arrive")
	return cmd
}

// e2eSummary is the --json output of `perf e2e`.
type e2eSummary struct {
	Test        string  `json:"test"` // "e2e"
	Topic       string  `json:"topic"`
	TargetRate  float64 `json:"target_records_per_sec"`
	DurationSec float64 `json:"duration_s"`
	RecordSize  int     `json:"record_size"`
	Acks        string  `json:"acks"`
	Compression string  `json:"compression"`
	Sent        int64   `json:"sent"` // produce calls made
	SendRate    float64 `json:"sent_records_per_sec"`
	Acked       int64   `json:"acked"`       // acknowledged by the broker
	SendErrors  int64   `json:"send_errors"` // failed to produce
	Received    int64   `json:"received"`    // distinct records of this run consumed
	Missing     int64   `json:"missing"`     // acknowledged but never consumed
	Duplicates  int64   `json:"duplicates"`  // consumed more than once
	latencyJSON
}

// e2eTracker follows each sequence number from send to receipt.
type e2eTracker struct {
	mu       sync.Mutex
	acked    []bool
	failed   int64
	received []bool
	nRecv    int64
	dups     int64
	// Set once every promise has run: from then on outstanding counts the
	// acknowledged records not yet received, and done closes at zero.
	sendDone    bool
	outstanding int64
	done        chan struct{}
}

func newE2ETracker(n int64) *e2eTracker {
	return &e2eTracker{acked: make([]bool, n), received: make([]bool, n), done: make(chan struct{})}
}

func (t *e2eTracker) ack(seq int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		return
	}
	t.acked[seq] = true
}

// receive records seq's arrival, reporting whether it is the first.
func (t *e2eTracker) receive(seq int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.received[seq] {
		t.dups++
		return false
	}
	t.received[seq] = true
	t.nRecv++
	// A record can arrive before its acknowledgement; it only counts
	// against outstanding once acknowledgements are final.
	if t.sendDone && t.acked[seq] {
		t.outstanding--
		if t.outstanding == 0 {
			close(t.done)
		}
	}
	return true
}

// finishSending is called after the producer's flush, when every promise
// has run and acked is final.
func (t *e2eTracker) finishSending() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq, a := range t.acked {
		if a && !t.received[seq] {
			t.outstanding++
		}
	}
	t.sendDone = true
	if t.outstanding == 0 {
		close(t.done)
	}
}

func (t *e2eTracker) counts() (acked, failed, received, missing, dups int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for seq, a := range t.acked {
		if a {
			acked++
			if !t.received[seq] {
				missing++
			}
		}
	}
	return acked, t.failed, t.nRecv, missing, t.dups
}

func (o *perfE2EOptions) run(cmd *cobra.Command) error {
	if o.rate <= 0 {
		return fmt.Errorf("--rate must be positive, got %v", o.rate)
	}
	if o.recordSize < e2eHeaderLen {
		return fmt.Errorf("--record-size must be at least %d, got %d", e2eHeaderLen, o.recordSize)
	}
	// A fixed count rather than "until the duration has passed" makes the
	// expected total exact, and the pacer spreads it over the duration.
	n := int64(math.Round(o.rate * o.duration.Seconds()))
	if n < 1 {
		return fmt.Errorf("--rate %v for --duration %v is less than one record", o.rate, o.duration)
	}
	popts, err := o.producer.opts(o.client.timeout)
	if err != nil {
		return err
	}
	pcl, err := o.client.newClient(cmd, append(popts, kgo.DefaultProduceTopic(o.topic))...)
	if err != nil {
		return err
	}
	defer pcl.Close()
	if err := checkTopic(cmd, o.client, pcl, o.topic); err != nil {
		return err
	}

	// The consumer starts at offsets listed before the first send, not at
	// a lazily resolved "end": that could be resolved after the first
	// records were written, and they would be reported missing.
	ends, err := func() (kadm.ListedOffsets, error) {
		ctx, cancel := o.client.adminContext(cmd)
		defer cancel()
		return kadm.NewClient(pcl).ListEndOffsets(ctx, o.topic)
	}()
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	ccl, err := o.client.newClient(cmd,
		kgo.ConsumePartitions(ends.KOffsets()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer ccl.Close()

	ctx := cmd.Context()
	base := time.Now()
	var runID [8]byte
	binary.BigEndian.PutUint64(runID[:], rand.Uint64())
	tr := newE2ETracker(n)
	meter := perf.NewMeter(base, int(n))
	stderr := &lockedWriter{w: cmd.ErrOrStderr()}

	// The consumer runs until consumeCtx ends; its first error is kept.
	// An interrupt stops sending but not consuming: the records already
	// acknowledged are still waited for (up to --timeout), so that the
	// summary's missing count means lost, not cut short.
	consumeCtx, stopConsumer := context.WithCancel(context.WithoutCancel(ctx))
	consumerDone := make(chan struct{})
	var consumeErr error
	warm := make(chan struct{})
	go func() {
		defer close(consumerDone)
		consumeErr = consumeE2E(consumeCtx, ccl, runID, n, base, tr, meter, warm)
	}()
	defer func() { // on every return, before the consumer client closes
		stopConsumer()
		<-consumerDone
	}()

	v := make([]byte, e2eHeaderLen)
	copy(v, runID[:])
	binary.BigEndian.PutUint64(v[8:], e2eWarmupSeq)
	// kgo retries a record for a broker it cannot reach for longer than
	// its delivery timeout says, so the wait is bounded here too.
	wctx, wcancel := context.WithTimeout(ctx, o.client.timeout)
	err = pcl.ProduceSync(wctx, &kgo.Record{Value: v}).FirstErr()
	wcancel()
	if err != nil {
		return fmt.Errorf("warm-up record: %w", err)
	}
	warmTimer := time.NewTimer(o.client.timeout)
	defer warmTimer.Stop()
	select {
	case <-warm:
	case <-consumerDone:
		return fmt.Errorf("consumer failed during warm-up: %w", consumeErr)
	case <-warmTimer.C:
		return fmt.Errorf("the warm-up record was not consumed within %v", o.client.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}

	var sent atomic.Int64
	rep := startReporter(progressEvery, func(now time.Time) {
		iv := meter.Interval(now)
		fmt.Fprintf(stderr, "%d records sent, %d received in the last %.1fs, %.1f ms avg latency, %.1f ms max latency.\n",
			sent.Load(), iv.Records, iv.Elapsed.Seconds(), ms(iv.MeanLatency), ms(iv.MaxLatency))
	})
	defer rep.Stop()

	pad := make([]byte, o.recordSize-e2eHeaderLen)
	for i := range pad {
		pad[i] = 'A' + byte(rand.IntN(26))
	}
	// As in `produce`: an interrupt stops sending, not delivering; a
	// cluster that stopped acknowledging for --timeout ends the run.
	produceCtx, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	d := newDeliveries(stderr, func(*kgo.Record) string { return "record failed" }, pcl, o.client.timeout, abandon)
	pacer := perf.NewPacer(o.rate)
	sendStart := time.Now()
	for seq := int64(0); seq < n && !d.isStalled(); seq++ {
		if pacer.Wait(ctx) != nil {
			break
		}
		v := make([]byte, o.recordSize)
		copy(v, runID[:])
		binary.BigEndian.PutUint64(v[8:], uint64(seq))
		copy(v[e2eHeaderLen:], pad)
		binary.BigEndian.PutUint64(v[16:], uint64(time.Since(base)))
		d.produce(produceCtx, pcl, &kgo.Record{Value: v}, func(r *kgo.Record, err error) {
			d.promise(r, err)
			tr.ack(seq, err)
		})
		sent.Add(1)
	}
	sendElapsed := time.Since(sendStart)
	d.finish(pcl, abandon, o.client.timeout)
	tr.finishSending()

	// Wait for the stragglers, at most --timeout.
	drain := time.NewTimer(o.client.timeout)
	defer drain.Stop()
	select {
	case <-tr.done:
	case <-drain.C:
	case <-consumerDone:
	}
	stopConsumer()
	<-consumerDone
	rep.Stop()

	s := meter.Summary(time.Now())
	acked, failed, received, missing, dups := tr.counts()
	nSent := sent.Load()
	sendRate := perf.Summary{Records: nSent, Elapsed: sendElapsed}.RecordsPerSec()
	out := cmd.OutOrStdout()
	if o.json {
		err = writeJSON(out, e2eSummary{
			Test: "e2e", Topic: o.topic, TargetRate: o.rate, DurationSec: o.duration.Seconds(), RecordSize: o.recordSize,
			Acks: o.producer.acks, Compression: o.producer.compression,
			Sent: nSent, SendRate: sendRate, Acked: acked, SendErrors: failed,
			Received: received, Missing: missing, Duplicates: dups,
			latencyJSON: latencies(s),
		})
	} else {
		_, err = fmt.Fprintf(out, "%d records sent at %.1f records/sec: %d acked, %d failed; %d received, %d missing, %d duplicates; "+
			"end-to-end latency %.2f ms avg, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th, %.2f ms max.\n",
			nSent, sendRate, acked, failed, received, missing, dups,
			ms(s.Mean), ms(s.P50), ms(s.P95), ms(s.P99), ms(s.P999), ms(s.Max))
	}
	if errors.Is(consumeErr, context.Canceled) {
		consumeErr = nil // we stopped it
	}
	return errors.Join(err, consumeErr,
		d.summary(n, o.client.timeout),
		errIf(missing > 0, "%d acknowledged records were not consumed", missing),
		errIf(d.isStalled(), "stopped after sending %d of %d records: the cluster did not acknowledge within --timeout", nSent, n),
		errIf(nSent < n && !d.isStalled(), "interrupted after %d of %d records", nSent, n))
}

// consumeE2E consumes until ctx ends, timing every record of this run. It
// closes warm when the warm-up record arrives.
func consumeE2E(ctx context.Context, cl *kgo.Client, runID [8]byte, n int64, base time.Time, tr *e2eTracker, meter *perf.Meter, warm chan<- struct{}) error {
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, fe := range fs.Errors() {
			return fmt.Errorf("consume %s[%d]: %w", fe.Topic, fe.Partition, fe.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			now := time.Since(base)
			v := r.Value
			if len(v) < e2eHeaderLen || [8]byte(v[:8]) != runID {
				return // another run's record, or not ours at all
			}
			useq := binary.BigEndian.Uint64(v[8:])
			if useq == e2eWarmupSeq {
				if warm != nil {
					close(warm)
					warm = nil
				}
				return
			}
			if useq >= uint64(n) {
				return
			}
			seq := int64(useq)
			if tr.receive(seq) {
				sentAt := time.Duration(binary.BigEndian.Uint64(v[16:]))
				meter.ObserveLatency(len(v), now-sentAt)
			}
		})
	}
}
