package hotkeys

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/samsa-kafka/samsa/internal/record"
)

// Counters is the number of counters each partition's sketch keeps.
const Counters = 32

// Sampling. Counting every key costs about as much as the rest of the
// produce path when keys rarely repeat (each one then replaces a counter:
// a scan of the counters, a string allocation and two map operations), and
// a compressed batch must first be decompressed, which the produce path
// does not otherwise pay for. So the tracker reads the keys of about
// SampledRecordsPerSecond records a second, whatever the produce rate:
// every batch while the broker takes fewer records, one batch in N beyond
// (N up to MaxSampleEvery, adjusted every tenth of a second from the record rate
// seen), the keys of a sampled batch weighted by N so the estimates stay
// unbiased. A compressed batch must be decompressed whole before its keys
// can be read, so its bytes count against a second budget,
// SampledCompressedBytesPerSecond: N is whichever of the two asks for
// more. The budget is in records and bytes, not batches: a 1 MB batch of 100 B
// records holds 10,000 keys, and a batch budget let the tracker walk every
// record of a fast producer (26 % of the broker's CPU at 100 B records,
// docs/benchmarks.md "Metrics on vs off"). The cost is thereby bounded per
// second rather than per byte (see BenchmarkObserve), and a hot key,
// being hot, still shows.
const (
	SampledRecordsPerSecond         = 5000
	SampledCompressedBytesPerSecond = 1 << 20
	MaxSampleEvery                  = 4096
	// adaptEvery is how many batches pass between looks at the clock,
	// and adaptWindow the shortest time a rate is measured over. Both are
	// short: a producer of 1 MB batches sends a few hundred a second, and
	// until the first adaptation every batch is read (a first version
	// looked every 256 batches over at least a second, and so read every
	// record of the first second of such a run).
	adaptEvery  = 16
	adaptWindow = 100 * time.Millisecond
)

// maxSampleBytes bounds the decompressed size of a sampled batch; a batch
// that claims more is skipped.
const maxSampleBytes = 8 << 20

// Tracker keeps one sketch per partition, fed from the produce path. It is
// safe for concurrent use. The zero value is not usable; call NewTracker.
type Tracker struct {
	mu         sync.RWMutex
	partitions map[TopicPartition]*Sketch

	batches atomic.Uint64 // batches seen, for sampling
	records atomic.Uint64 // records in them, for the rate
	zbytes  atomic.Uint64 // bytes of the compressed ones, for the rate
	every   atomic.Uint64 // one batch in every is read
	// The rate window, under rateMu: when it began and the record count
	// then.
	rateMu      sync.Mutex
	rateStart   time.Time
	rateRecords uint64
	rateZBytes  uint64
	now         func() time.Time
}

// TopicPartition names a partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	t := &Tracker{partitions: map[TopicPartition]*Sketch{}, now: time.Now}
	t.every.Store(1)
	t.rateStart = t.now()
	return t
}

// sample reports whether the next batch is read, and the weight of its
// keys.
func (t *Tracker) sample(records int32, compressedBytes int64) (bool, uint64) {
	n := t.batches.Add(1)
	r := t.records.Add(uint64(max(records, 0)))
	z := t.zbytes.Load()
	if compressedBytes > 0 {
		z = t.zbytes.Add(uint64(compressedBytes))
	}
	if n%adaptEvery == 0 {
		t.adapt(r, z)
	}
	every := t.every.Load()
	return n%every == 0, every
}

// adapt sets the sampling period from the record and compressed-byte
// rates of the last adaptWindow or more; n and z are the records and
// compressed bytes seen so far.
func (t *Tracker) adapt(n, z uint64) {
	t.rateMu.Lock()
	defer t.rateMu.Unlock()
	now := t.now()
	elapsed := now.Sub(t.rateStart)
	if elapsed < adaptWindow || n < t.rateRecords || z < t.rateZBytes {
		return
	}
	records := float64(n-t.rateRecords) / elapsed.Seconds()
	zbytes := float64(z-t.rateZBytes) / elapsed.Seconds()
	every := uint64(min(max(records/SampledRecordsPerSecond, zbytes/SampledCompressedBytesPerSecond, 1), MaxSampleEvery))
	t.every.Store(every)
	t.rateStart, t.rateRecords, t.rateZBytes = now, n, z
}

// Observe counts the keys of the record batches in records (a produce
// request's partition data, already appended, so already validated). A nil
// tracker observes nothing. Its cost on a batch not sampled is a header
// parse and an atomic increment; a sampled one is read: an uncompressed
// one in place (one pass over the record headers, one map lookup a
// record), a compressed one decompressed first.
func (t *Tracker) Observe(topic string, partition int32, records []byte) {
	if t == nil || len(records) == 0 {
		return
	}
	var s *Sketch
	for len(records) >= record.HeaderSize {
		h, err := record.ParseHeader(records)
		if err != nil || h.Size() > int64(len(records)) {
			return
		}
		batch := records[:h.Size()]
		records = records[h.Size():]
		if h.IsControl() {
			continue
		}
		var zbytes int64
		if h.Codec() != record.CodecNone {
			zbytes = h.Size()
		}
		read, weight := t.sample(h.NumRecords, zbytes)
		if !read {
			continue
		}
		if s == nil {
			s = t.sketch(topic, partition)
		}
		// One lock for the batch, not one a record.
		s.mu.Lock()
		_ = record.EachKey(batch, maxSampleBytes, func(key []byte) { s.add(key, weight) })
		s.mu.Unlock()
	}
}

func (t *Tracker) sketch(topic string, partition int32) *Sketch {
	tp := TopicPartition{topic, partition}
	t.mu.RLock()
	s := t.partitions[tp]
	t.mu.RUnlock()
	if s != nil {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if s = t.partitions[tp]; s == nil {
		s = NewSketch(Counters)
		t.partitions[tp] = s
	}
	return s
}

// Sketch is the partition's sketch, or nil when no key was seen there.
func (t *Tracker) Sketch(topic string, partition int32) *Sketch {
	if t == nil {
		return nil
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.partitions[TopicPartition{topic, partition}]
}

// Retain drops the sketches of partitions keep refuses (deleted topics,
// partitions this broker no longer leads), so the tracker's memory follows
// the partitions it serves.
func (t *Tracker) Retain(keep func(TopicPartition) bool) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for tp := range t.partitions {
		if !keep(tp) {
			delete(t.partitions, tp)
		}
	}
}
