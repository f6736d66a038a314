package chaos

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recorder collects a History from many goroutines.
type recorder struct {
	mu sync.Mutex
	h  History
}

func (r *recorder) ack(p int32, v string, off int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Acked = append(r.h.Acked, Ack{p, v, off})
}

func (r *recorder) unacked(p int32, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Unacked = append(r.h.Unacked, Attempt{p, v})
}

func (r *recorder) reads(rs []Read) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.Reads = append(r.h.Reads, rs...)
}

func (r *recorder) counts() (acked, unacked, reads int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.h.Acked), len(r.h.Unacked), len(r.h.Reads)
}

// workload is producers and consumers running against a cluster.
type workload struct {
	seeds      []string
	topic      string
	partitions int32
	rec        *recorder
	stopProd   chan struct{}
	stopCons   chan struct{}
	prodWG     sync.WaitGroup
	consWG     sync.WaitGroup
	sessions   sync.Mutex
	nextSess   int
}

// producerOpts are every producer's: acks=all and idempotence are kgo's
// defaults. A record not acknowledged within the delivery timeout fails
// and counts as attempted.
func producerOpts(seeds []string, topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(20 * time.Second),
		kgo.ProduceRequestTimeout(5 * time.Second),
		kgo.DialTimeout(2 * time.Second),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.MetadataMinAge(250 * time.Millisecond),
	}
}

func newWorkload(seeds []string, topic string, partitions int32) *workload {
	return &workload{seeds: seeds, topic: topic, partitions: partitions, rec: &recorder{},
		stopProd: make(chan struct{}), stopCons: make(chan struct{})}
}

// startProducer runs producer id: every tick it produces burst records,
// round-robin over the partitions, with at most maxInFlight outstanding.
func (w *workload) startProducer(id int, tick time.Duration, burst int) error {
	cl, err := kgo.NewClient(producerOpts(w.seeds, w.topic)...)
	if err != nil {
		return err
	}
	w.prodWG.Add(1)
	go func() {
		defer w.prodWG.Done()
		const maxInFlight = 400
		sem := make(chan struct{}, maxInFlight)
		var inflight sync.WaitGroup
		t := time.NewTicker(tick)
		defer t.Stop()
		seq := 0
	loop:
		for {
			select {
			case <-w.stopProd:
				break loop
			case <-t.C:
			}
			for range burst {
				select {
				case sem <- struct{}{}:
				case <-w.stopProd:
					break loop
				}
				p := int32(seq % int(w.partitions))
				v := fmt.Sprintf("p%d-%d", id, seq)
				seq++
				inflight.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Partition: p, Value: []byte(v)}, func(r *kgo.Record, err error) {
					if err == nil {
						w.rec.ack(p, v, r.Offset)
					} else {
						w.rec.unacked(p, v)
					}
					<-sem
					inflight.Done()
				})
			}
		}
		// What the cluster can still acknowledge, it acknowledges now;
		// the rest fails at Close and counts as attempted.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_ = cl.Flush(ctx)
		cancel()
		cl.Close()
		inflight.Wait()
	}()
	return nil
}

// stopProducers stops every producer and waits until each record has its
// answer.
func (w *workload) stopProducers() {
	close(w.stopProd)
	w.prodWG.Wait()
}

// startConsumer runs a consumer that reads every partition from the
// start; it replaces its client (a new session, resuming after what it
// read) every sessionLen, so a run has many consumer sessions.
func (w *workload) startConsumer(sessionLen time.Duration) {
	w.consWG.Add(1)
	go func() {
		defer w.consWG.Done()
		next := map[int32]kgo.Offset{}
		for p := range w.partitions {
			next[p] = kgo.NewOffset().AtStart()
		}
		for {
			select {
			case <-w.stopCons:
				return
			default:
			}
			w.session(next, sessionLen)
		}
	}()
}

// session is one consumer client reading from next for d (or until
// stopped); it moves next past what it read.
func (w *workload) session(next map[int32]kgo.Offset, d time.Duration) {
	w.sessions.Lock()
	w.nextSess++
	id := w.nextSess
	w.sessions.Unlock()
	offsets := map[int32]kgo.Offset{}
	for p, o := range next {
		offsets[p] = o
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{w.topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.DialTimeout(2*time.Second),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	go func() {
		select {
		case <-w.stopCons:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		var rs []Read
		fs.EachRecord(func(r *kgo.Record) {
			rs = append(rs, Read{Consumer: id, Partition: r.Partition, Offset: r.Offset, Value: string(r.Value)})
			next[r.Partition] = kgo.NewOffset().At(r.Offset + 1)
		})
		w.rec.reads(rs)
	}
}

func (w *workload) stopConsumers() {
	close(w.stopCons)
	w.consWG.Wait()
}

// finalRead reads every partition from its start to its end offset
// (ends), as one client.
func finalRead(ctx context.Context, seeds []string, topic string, ends map[int32]int64) (map[int32][]Record, error) {
	out := map[int32][]Record{}
	offsets := map[int32]kgo.Offset{}
	left := 0
	for p, end := range ends {
		out[p] = nil
		if end > 0 {
			offsets[p] = kgo.NewOffset().AtStart()
			left++
		}
	}
	if left == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	done := map[int32]bool{}
	for len(done) < left {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("final read: %w (%d of %d partitions read to their end)", ctx.Err(), len(done), left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if done[r.Partition] {
				return
			}
			out[r.Partition] = append(out[r.Partition], Record{Offset: r.Offset, Value: string(r.Value)})
			if r.Offset+1 >= ends[r.Partition] {
				done[r.Partition] = true
			}
		})
	}
	return out, nil
}
