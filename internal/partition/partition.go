// Package partition is one partition replica: its log, leader epoch, high
// watermark and the waiters that long polls and acks=all producers park on.
// On a single node the leader is the whole ISR, so the high watermark moves
// with every append; with replication it will move when the ISR's followers
// have fetched past an offset, and nothing above this package changes.
//
// Lock order: Partition.mu (append) → log internals → Partition.waitMu.
package partition

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/record"
)

// Config is the resolved topic configuration a partition runs with.
type Config struct {
	Log                  log.Config
	MaxMessageBytes      int32
	LogAppendTime        bool // message.timestamp.type=LogAppendTime
	TimestampBeforeMaxMs int64
	TimestampAfterMaxMs  int64
	MinInsyncReplicas    int32
	// Compact: cleanup.policy includes compact, so keys are required.
	Compact bool
	// CompressionType is compression.type: "producer" (or "") stores
	// batches as sent; a codec name makes the broker re-encode them.
	CompressionType string
	// Delete: cleanup.policy includes delete, so retention applies and
	// DeleteRecords is allowed.
	Delete bool
	// RetentionMs and RetentionBytes are retention.ms and retention.bytes;
	// negative is unlimited.
	RetentionMs    int64
	RetentionBytes int64
	// Compaction (cleanup.policy compact): delete.retention.ms,
	// min/max.compaction.lag.ms and min.cleanable.dirty.ratio.
	DeleteRetentionMs      int64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	MinCleanableDirtyRatio float64
}

// storeCodec maps compression.type to the codec batches are stored with,
// or -1 for "producer".
func storeCodec(compressionType string) int {
	switch compressionType {
	case "uncompressed":
		return record.CodecNone
	case "gzip":
		return record.CodecGzip
	case "snappy":
		return record.CodecSnappy
	case "lz4":
		return record.CodecLZ4
	case "zstd":
		return record.CodecZstd
	}
	return -1
}

// Partition is one partition replica.
type Partition struct {
	Topic string
	Index int32

	log *log.Log
	cfg atomic.Pointer[Config]
	now func() time.Time

	mu          sync.Mutex // serialises appends (offset assignment order)
	leaderEpoch atomic.Int32
	hw          atomic.Pointer[log.Position]
	isr         atomic.Int32 // size of the in-sync replica set

	waitMu  sync.Mutex
	waiters map[chan<- struct{}]struct{}
}

// Open opens the partition's log in dir.
func Open(dir, topic string, index int32, leaderEpoch int32, cfg Config, opts log.Options) (*Partition, error) {
	opts.Config = cfg.Log
	l, err := log.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, index, err)
	}
	p := &Partition{Topic: topic, Index: index, log: l, now: opts.Now, waiters: map[chan<- struct{}]struct{}{}}
	if p.now == nil {
		p.now = time.Now
	}
	c := cfg
	p.cfg.Store(&c)
	p.leaderEpoch.Store(leaderEpoch)
	p.isr.Store(1)
	end := l.EndPosition()
	p.hw.Store(&end)
	return p, nil
}

// Config returns the partition's current configuration.
func (p *Partition) Config() *Config { return p.cfg.Load() }

// SetConfig applies a topic config change to the live partition.
func (p *Partition) SetConfig(c Config) {
	p.cfg.Store(&c)
	p.log.SetConfig(c.Log)
}

// SetLeaderEpoch records the partition's leader epoch from the metadata;
// it never moves backwards.
func (p *Partition) SetLeaderEpoch(e int32) {
	for {
		cur := p.leaderEpoch.Load()
		if e <= cur || p.leaderEpoch.CompareAndSwap(cur, e) {
			return
		}
	}
}

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// HighWatermark is the offset below which records are committed and visible.
func (p *Partition) HighWatermark() int64 { return p.hw.Load().Offset }

// LastStableOffset bounds read_committed consumers; without transactions it
// is the high watermark.
func (p *Partition) LastStableOffset() int64 { return p.HighWatermark() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// LogEndOffset is the next offset to be assigned.
func (p *Partition) LogEndOffset() int64 { return p.log.EndOffset() }

// Size is the bytes on disk.
func (p *Partition) Size() int64 { return p.log.Size() }

// ISRSize is the number of in-sync replicas (1 on a single node).
func (p *Partition) ISRSize() int32 { return p.isr.Load() }

// decompressBound caps what one produced batch may inflate to: a 1 KB batch
// can claim gigabytes, and the broker must never allocate what it claims.
// 32x max.message.bytes (32 MiB by default) admits any realistic batch;
// a larger one gets MESSAGE_TOO_LARGE, on which the Java producer splits
// the batch and retries. Kafka has no such bound (see docs/configuration.md).
func decompressBound(maxMessage int32) int {
	return int(min(max(32*int64(maxMessage), 8<<20), 256<<20))
}

// AppendResult is the outcome of a producer's append.
type AppendResult = log.AppendResult

// Append validates the records of one partition in a produce request (they
// must be exactly one batch) and appends them as leader. Errors carry the
// Kafka code (errors.As to *kerr.Error).
func (p *Partition) Append(batch []byte) (AppendResult, error) {
	cfg := p.cfg.Load()
	now := p.now().UnixMilli()
	vo := record.ValidateOptions{
		MaxDecompressedBytes: decompressBound(cfg.MaxMessageBytes),
		MaxBatchBytes:        int(cfg.MaxMessageBytes),
		RequireKeys:          cfg.Compact,
	}
	if !cfg.LogAppendTime {
		// CreateTime: every record's timestamp is checked against
		// message.timestamp.before/after.max.ms (KIP-937).
		vo.Now, vo.TimestampBeforeMaxMs, vo.TimestampAfterMaxMs = now, cfg.TimestampBeforeMaxMs, cfg.TimestampAfterMaxMs
	}
	info, err := record.Validate(batch, vo)
	if err != nil {
		return AppendResult{}, err
	}
	if codec := storeCodec(cfg.CompressionType); codec >= 0 && codec != info.Codec {
		// compression.type names a codec: re-encode, as Kafka does. The
		// new bytes replace the request's (which stay untouched).
		if batch, err = record.Recompress(batch, codec, vo.MaxDecompressedBytes); err != nil {
			return AppendResult{}, fmt.Errorf("partition %s-%d: recompress: %w: %w", p.Topic, p.Index, err, kerr.CorruptMessage)
		}
		if len(batch) > int(cfg.MaxMessageBytes) {
			return AppendResult{}, fmt.Errorf("partition %s-%d: batch of %d bytes after recompression exceeds max.message.bytes %d: %w",
				p.Topic, p.Index, len(batch), cfg.MaxMessageBytes, kerr.MessageTooLarge)
		}
	}
	opts := log.AppendOptions{LogAppendTime: -1}
	if cfg.LogAppendTime {
		opts.LogAppendTime = now
	} else if info.Header.MaxTimestamp != info.MaxTimestamp {
		// Store the max timestamp computed over the records, not the
		// producer's claim, so the time index and ListOffsets -3 are right.
		record.SetMaxTimestamp(batch, info.MaxTimestamp)
	}

	p.mu.Lock()
	opts.LeaderEpoch = p.leaderEpoch.Load()
	res, err := p.log.Append(batch, opts)
	if err == nil && !res.Duplicate {
		// Single node: the leader is the whole ISR, so the batch is
		// committed as soon as it is in the log.
		end := res.End
		p.hw.Store(&end)
	}
	p.mu.Unlock()
	if err != nil {
		return res, mapLogError(err)
	}
	if !res.Duplicate {
		p.wake()
	}
	return res, nil
}

func mapLogError(err error) error {
	switch {
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return fmt.Errorf("%w: %w", err, kerr.OutOfOrderSequenceNumber)
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return fmt.Errorf("%w: %w", err, kerr.InvalidProducerEpoch)
	case errors.Is(err, log.ErrClosed):
		return fmt.Errorf("%w: %w", err, kerr.NotLeaderForPartition)
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	// An I/O failure: Kafka answers KAFKA_STORAGE_ERROR and takes the log
	// dir offline; we fail the request and keep the log readable.
	return fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
}

// ReadResult is what a fetch of one partition gets.
type ReadResult struct {
	Slice            log.Slice
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
}

// Read returns up to maxBytes from offset, never past the high watermark
// (or the last stable offset for read_committed). An offset outside
// [log start, log end] is OFFSET_OUT_OF_RANGE.
func (p *Partition) Read(offset int64, maxBytes int64, minOne, readCommitted bool) (ReadResult, error) {
	hw := *p.hw.Load()
	res := ReadResult{HighWatermark: hw.Offset, LastStableOffset: hw.Offset, LogStartOffset: p.log.StartOffset()}
	if offset < res.LogStartOffset || offset > p.log.EndOffset() {
		return res, fmt.Errorf("partition %s-%d: offset %d outside [%d, %d]: %w",
			p.Topic, p.Index, offset, res.LogStartOffset, p.log.EndOffset(), kerr.OffsetOutOfRange)
	}
	if offset >= hw.Offset {
		return res, nil
	}
	r, err := p.log.Read(offset, maxBytes, hw, minOne)
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return res, fmt.Errorf("%w: %w", err, kerr.OffsetOutOfRange)
		}
		return res, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
	}
	res.Slice = r.Slice
	return res, nil
}

// ListOffset answers ListOffsets for one timestamp (or special value):
// -1 latest, -2 earliest, -3 max timestamp, -4 earliest local; otherwise
// the first offset whose timestamp is >= ts, or (-1, -1) if none is.
func (p *Partition) ListOffset(ts int64, readCommitted bool) (offset, timestamp int64, err error) {
	hw := p.HighWatermark()
	limit := decompressBound(p.cfg.Load().MaxMessageBytes)
	switch ts {
	case -1:
		return hw, -1, nil
	case -2, -4:
		return p.log.StartOffset(), -1, nil
	case -3:
		b, err := p.log.MaxTimestampBatch()
		if err != nil {
			return -1, -1, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
		}
		if b == nil {
			return -1, -1, nil
		}
		off, t, err := record.MaxTimestampRecord(b, limit)
		if err != nil || off >= hw {
			return -1, -1, err
		}
		return off, t, nil
	}
	if ts < 0 {
		return -1, -1, fmt.Errorf("partition: timestamp %d: %w", ts, kerr.InvalidRequest)
	}
	b, err := p.log.FindByTimestamp(ts)
	if err != nil {
		return -1, -1, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
	}
	if b == nil {
		return -1, -1, nil
	}
	off, t, ok, err := record.FindTimestamp(b, ts, limit)
	if err != nil {
		return -1, -1, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
	}
	if !ok || off >= hw {
		return -1, -1, nil
	}
	return off, t, nil
}

// DeleteOldSegments applies retention.ms and retention.bytes if the
// cleanup policy includes delete, never past the high watermark, and
// returns how many segments went.
func (p *Partition) DeleteOldSegments(now time.Time) (int, error) {
	cfg := p.cfg.Load()
	if !cfg.Delete {
		return 0, nil
	}
	return p.log.DeleteOldSegments(now, cfg.RetentionMs, cfg.RetentionBytes, p.HighWatermark())
}

// Compact runs a log cleaner pass if the cleanup policy includes compact
// and one is due (see log.Compact), never at or past the high watermark.
func (p *Partition) Compact(now time.Time) (log.CompactStats, error) {
	cfg := p.cfg.Load()
	if !cfg.Compact {
		return log.CompactStats{}, nil
	}
	return p.log.Compact(now, log.CompactOptions{
		DeleteRetentionMs:  cfg.DeleteRetentionMs,
		MinCompactionLagMs: cfg.MinCompactionLagMs,
		MaxCompactionLagMs: cfg.MaxCompactionLagMs,
		MinCleanableRatio:  cfg.MinCleanableDirtyRatio,
		HW:                 p.HighWatermark(),
	})
}

// DeleteRecords answers DeleteRecords: it moves the log start offset up to
// offset (-1: the high watermark), deleting the segments wholly below it,
// and returns the log start offset after it (the low watermark). An offset
// above the high watermark, or negative, is OFFSET_OUT_OF_RANGE; a topic
// whose cleanup.policy lacks delete answers POLICY_VIOLATION, as in Kafka.
func (p *Partition) DeleteRecords(offset int64) (int64, error) {
	if !p.cfg.Load().Delete {
		return -1, fmt.Errorf("partition %s-%d: records cannot be deleted under the configured cleanup.policy: %w",
			p.Topic, p.Index, kerr.PolicyViolation)
	}
	// A leader's high watermark only grows, so an offset checked against
	// it stays at or below it.
	hw := p.HighWatermark()
	if offset == -1 {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return -1, fmt.Errorf("partition %s-%d: offset %d outside [0, high watermark %d]: %w",
			p.Topic, p.Index, offset, hw, kerr.OffsetOutOfRange)
	}
	if err := p.log.SetStartOffset(offset); err != nil {
		return -1, mapLogError(err)
	}
	return p.log.StartOffset(), nil
}

// EndOffsetForEpoch answers OffsetForLeaderEpoch: the end offset of the
// requested epoch (the start of the next larger epoch, or the log end for
// the current one) and the largest epoch <= the requested one.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	entries := p.log.EpochEntries()
	cur := p.leaderEpoch.Load()
	if epoch == cur {
		return cur, p.log.EndOffset()
	}
	if epoch > cur {
		return -1, -1
	}
	found := int32(-1)
	for i, e := range entries {
		if e.Epoch > epoch {
			if found == -1 {
				return -1, -1
			}
			return found, e.StartOffset
		}
		found = entries[i].Epoch
	}
	if found == -1 {
		return -1, -1
	}
	return found, p.log.EndOffset()
}

// AddWaiter registers ch to receive a non-blocking send whenever the high
// watermark moves; the returned func unregisters it. ch should have room
// for one value so a wake-up between a check and a wait is not lost.
func (p *Partition) AddWaiter(ch chan<- struct{}) (remove func()) {
	p.waitMu.Lock()
	p.waiters[ch] = struct{}{}
	p.waitMu.Unlock()
	return func() {
		p.waitMu.Lock()
		delete(p.waiters, ch)
		p.waitMu.Unlock()
	}
}

func (p *Partition) wake() {
	p.waitMu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// Flush fsyncs the log.
func (p *Partition) Flush() error { return p.log.Flush() }

// FlushIfDue fsyncs the log if flush.ms has passed since unflushed data
// was appended.
func (p *Partition) FlushIfDue() error { return p.log.FlushIfDue() }

// Close closes the log cleanly and wakes waiters so they re-check.
func (p *Partition) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	err := p.log.Close()
	p.wake()
	return err
}

// CloseForDelete closes the log of a replica being deleted, writing
// nothing (see log.CloseForDelete), and wakes waiters so they re-check.
// The caller removes the directory.
func (p *Partition) CloseForDelete() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log.CloseForDelete()
	p.wake()
}
