package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/bench/internal/benchutil"
)

// producer sends one record at a time (acks=all, idempotent, franz-go's
// defaults otherwise) and remembers when each was sent and acknowledged.
//
// franz-go waits at least MetadataMinAge (5 s by default) between metadata
// refreshes, even after a NOT_LEADER_OR_FOLLOWER; that would put the
// client's wait, not the cluster's, into the failover time, so it is set to
// Java's retry.backoff.ms-like 100 ms here, for both clusters alike.
type producer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	cond   *sync.Cond
	acks   []sentAcked
	errors int
}

type sentAcked struct{ sent, acked time.Time }

func startProducer(bootstrap, topic string) *producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), kgo.MetadataMinAge(100*time.Millisecond))
	benchutil.Must(err)
	ctx, cancel := context.WithCancel(context.Background())
	p := &producer{cl: cl, cancel: cancel, done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		defer close(p.done)
		for i := 0; ctx.Err() == nil; i++ {
			sent := time.Now()
			err := cl.ProduceSync(ctx, kgo.StringRecord(strconv.Itoa(i))).FirstErr()
			acked := time.Now()
			p.mu.Lock()
			if err == nil {
				p.acks = append(p.acks, sentAcked{sent, acked})
			} else if ctx.Err() == nil {
				p.errors++
			}
			p.cond.Broadcast()
			p.mu.Unlock()
		}
	}()
	return p
}

// waitAckAfter returns when the first record sent at or after t was
// acknowledged, waiting up to limit for it.
func (p *producer) waitAckAfter(t time.Time, limit time.Duration) time.Time {
	timer := time.AfterFunc(limit, func() {
		p.mu.Lock()
		p.cond.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		i := sort.Search(len(p.acks), func(i int) bool { return !p.acks[i].sent.Before(t) })
		if i < len(p.acks) {
			return p.acks[i].acked
		}
		if time.Now().After(deadline) {
			benchutil.Must(fmt.Errorf("no record acknowledged within %v", limit))
		}
		p.cond.Wait()
	}
}

func (p *producer) failed() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errors
}

func (p *producer) close() {
	p.cancel()
	<-p.done
	p.cl.Close()
}

// poll calls f until it succeeds, for up to limit, then exits the program
// with its last error.
func poll(limit time.Duration, f func(ctx context.Context) error) {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := f(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			benchutil.Must(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// results are runs by cluster kind and workload.
type results map[string]map[string][]map[string]float64

func (r results) add(kind, workload string, v map[string]float64) {
	if r[kind] == nil {
		r[kind] = map[string][]map[string]float64{}
	}
	r[kind][workload] = append(r[kind][workload], v)
}

func (r results) values(kind, workload, key string) []float64 {
	var xs []float64
	for _, v := range r[kind][workload] {
		xs = append(xs, v[key])
	}
	return xs
}

// produceWorkload names a produce workload; the batch size is named only
// when the run has several.
func produceWorkload(partitions, rf, batch int, several bool) string {
	w := fmt.Sprintf("produce 1 KB, %d partitions, RF=%d", partitions, rf)
	if several {
		w += fmt.Sprintf(", batch %d", batch)
	}
	return w
}

func (r results) report(kinds []kind, parts, batches []int) {
	fmt.Println("| workload | cluster | MB/s | p99 ms | CPU-s/GB (3 nodes) |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, p := range parts {
		for _, b := range batches {
			for _, rf := range []int{1, 3} {
				w := produceWorkload(p, rf, b, len(batches) > 1)
				for _, k := range kinds {
					if len(r[k.name][w]) == 0 {
						continue // not run (-produce=false)
					}
					fmt.Printf("| %s | %s | %.0f | %.1f | %.2f |\n", w, k.name,
						benchutil.Median(r.values(k.name, w, "mb_per_sec")),
						benchutil.Median(r.values(k.name, w, "latency_p99_ms")),
						benchutil.Median(r.values(k.name, w, "cpu_s_per_gb")))
				}
			}
		}
	}
	if len(r.values(kinds[0].name, "failover", "seconds")) == 0 {
		return // no failovers run (-failovers 0)
	}
	fmt.Println()
	fmt.Println("| failover, from kill -9 of the leader | cluster | tries | median s | max s |")
	fmt.Println("|---|---|---:|---:|---:|")
	for _, w := range []struct{ key, name string }{{"election", "to a survivor naming the new leader"}, {"failover", "to the first ack on the new leader"}} {
		for _, k := range kinds {
			xs := r.values(k.name, w.key, "seconds")
			mx := 0.0
			for _, x := range xs {
				mx = max(mx, x)
			}
			fmt.Printf("| %s | %s | %d | %.2f | %.2f |\n", w.name, k.name, len(xs), benchutil.Median(xs), mx)
		}
	}
}

func (r results) reportTxn(kinds []kind) {
	fmt.Println()
	fmt.Println("| 1 KB records, 4 partitions, RF=3 | cluster | MB/s | transactions/s | CPU-s/GB (3 nodes) | MB/s ÷ idempotent |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, b := range txnBatches {
		w := txnWorkload(b)
		for _, k := range kinds {
			base := benchutil.Median(r.values(k.name, txnWorkload(0), "mb_per_sec"))
			mb := benchutil.Median(r.values(k.name, w, "mb_per_sec"))
			tps := "-"
			if b > 0 {
				tps = fmt.Sprintf("%.0f", benchutil.Median(r.values(k.name, w, "txn_per_sec")))
			}
			fmt.Printf("| %s | %s | %.0f | %s | %.2f | %.2f |\n", w, k.name, mb, tps,
				benchutil.Median(r.values(k.name, w, "cpu_s_per_gb")), mb/base)
		}
	}
}
