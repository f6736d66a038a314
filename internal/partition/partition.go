// Package partition is one partition replica: its log, its role (leader
// or follower) in a leader epoch, the high watermark, the ISR and what a
// leader knows of its followers, and the waiters that long polls and
// acks=all producers park on (replica.go). On a single node the leader is
// the whole ISR, so the high watermark moves with every append; with
// replication it moves when the ISR's followers have fetched past an
// offset.
//
// # Locks
//
// In the order they are taken:
//
//	Partition.mu       the appender lock: producer appends (offset
//	                   assignment order), follower appends, truncation and
//	                   role changes (MakeLeader, MakeFollower), so an append
//	                   always lands in the epoch and role it was checked
//	                   against. Held across an append's policy fsync (so
//	                   the high watermark passes a batch only once
//	                   flush.messages made it durable) and a new leader's
//	                   epoch-checkpoint write; nothing on the fetch path
//	                   takes it.
//	Partition.stateMu  the replica state (role, ISR, followers, pending ISR
//	                   change) and every high-watermark change. Short; never
//	                   held across an fsync. Reads the log's end and looks
//	                   up positions (log internals) while held.
//	log internals      see package log.
//	Partition.waitMu   leaf: the waiter sets.
//
// Readers take no partition lock: the leader epoch and the high watermark
// are atomics.
package partition

import (
	"errors"
	"fmt"
	"log/slog"
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

	log      *log.Log
	cfg      atomic.Pointer[Config]
	now      func() time.Time
	logger   *slog.Logger
	localID  int32
	lagMax   time.Duration
	eligible func(id int32) bool
	// brokerEpoch is a live broker's registered epoch, -1 unknown.
	brokerEpoch func(id int32) int64

	mu sync.Mutex // the appender lock (see the package comment)

	stateMu     sync.Mutex
	st          replicaState                 // guarded by stateMu
	leaderEpoch atomic.Int32                 // changes under mu and stateMu
	hw          atomic.Pointer[log.Position] // changes under stateMu

	waitMu     sync.Mutex
	hwWaiters  map[chan<- struct{}]struct{}
	leoWaiters map[chan<- struct{}]struct{}

	traffic Traffic // see Traffic
}

// ReplicaOptions say what a replica of a multi-node cluster knows beyond
// its log.
type ReplicaOptions struct {
	// LocalID is this broker's node id, as replica sets and ISRs name it.
	LocalID int32
	// HighWatermark is the replica's checkpointed high watermark
	// (log.ReadHWCheckpoint), or -1 when none was; it is clamped to
	// [log start, log end].
	HighWatermark int64
	// LagTimeMax is replica.lag.time.max.ms: how long a follower may go
	// without catching up before the leader stops holding the high
	// watermark for it when it is outside the ISR (0: Kafka's 30 s).
	// ISRChange takes its own lag for shrinking.
	LagTimeMax time.Duration
	// Eligible says whether a broker may join the ISR, and so hold back
	// the high watermark while outside it: registered, not fenced, not in
	// controlled shutdown (KRaft's rule). Nil: every replica is.
	Eligible func(id int32) bool
	// BrokerEpoch is the registered epoch of a live broker (unfenced, not
	// in controlled shutdown) in the latest metadata, -1 when it is not
	// live (KIP-903): a follower's fetch from an older incarnation is
	// refused, and a follower joins the ISR only with the epoch it
	// fetched with. Nil: no epoch is checked.
	BrokerEpoch func(id int32) int64
}

// defaultLagTimeMax is Kafka's replica.lag.time.max.ms.
const defaultLagTimeMax = 30 * time.Second

// soleReplica is the id Open gives the one replica of its partition.
const soleReplica int32 = -1

// Open opens the partition's log in dir as its partition's only replica:
// the leader in leaderEpoch with itself as the whole ISR, which is what a
// single node runs with. SetLeaderEpoch moves its epoch. Replicas of a
// multi-node cluster are opened with OpenReplica and given their roles by
// MakeLeader and MakeFollower.
func Open(dir, topic string, index int32, leaderEpoch int32, cfg Config, opts log.Options) (*Partition, error) {
	p, err := OpenReplica(dir, topic, index, cfg, ReplicaOptions{LocalID: soleReplica, HighWatermark: -1}, opts)
	if err != nil {
		return nil, err
	}
	sole := []int32{soleReplica}
	if _, err := p.MakeLeader(leaderEpoch, sole, sole, 0); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// OpenReplica opens the partition's log in dir as one replica of a
// multi-node cluster, with no role yet: it takes no appends until
// MakeLeader or MakeFollower.
func OpenReplica(dir, topic string, index int32, cfg Config, ro ReplicaOptions, opts log.Options) (*Partition, error) {
	opts.Config = cfg.Log
	l, err := log.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("partition %s-%d: %w", topic, index, err)
	}
	p := &Partition{Topic: topic, Index: index, log: l, now: opts.Now, logger: opts.Logger,
		localID: ro.LocalID, lagMax: ro.LagTimeMax, eligible: ro.Eligible, brokerEpoch: ro.BrokerEpoch,
		hwWaiters: map[chan<- struct{}]struct{}{}, leoWaiters: map[chan<- struct{}]struct{}{}}
	if p.now == nil {
		p.now = time.Now
	}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	if p.lagMax <= 0 {
		p.lagMax = defaultLagTimeMax
	}
	if p.brokerEpoch == nil {
		p.brokerEpoch = func(int32) int64 { return -1 }
	}
	if p.eligible == nil {
		p.eligible = func(int32) bool { return true }
	}
	c := cfg
	p.cfg.Store(&c)
	p.leaderEpoch.Store(-1)
	p.st = replicaState{leader: -1, partitionEpoch: -1, epochStart: -1}
	if _, err := p.setHW(ro.HighWatermark); err != nil {
		l.Close()
		return nil, err
	}
	return p, nil
}

// Config returns the partition's current configuration.
func (p *Partition) Config() *Config { return p.cfg.Load() }

// SetConfig applies a topic config change to the live partition.
func (p *Partition) SetConfig(c Config) {
	p.cfg.Store(&c)
	p.log.SetConfig(c.Log)
}

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// HighWatermark is the offset below which records are committed and visible.
func (p *Partition) HighWatermark() int64 { return p.hw.Load().Offset }

// LastStableOffset bounds read_committed consumers: the high watermark,
// or below it the first offset of the earliest transaction that is open or
// whose marker the high watermark has not passed (log.FirstUnstableOffset).
// It moves up only when the high watermark does (a marker ends a
// transaction only once committed; a new transaction opens at the log
// end), so the high watermark's waiters serve read_committed long polls.
func (p *Partition) LastStableOffset() int64 { return p.log.LastStableOffset(p.HighWatermark()) }

// FirstUnstableOffset is the log's first unstable offset (see
// log.FirstUnstableOffset); ok is false when every transaction is decided
// and committed.
func (p *Partition) FirstUnstableOffset() (int64, bool) { return p.log.FirstUnstableOffset() }

// Recovery says what opening the log found and had to do.
func (p *Partition) Recovery() log.Recovery { return p.log.Recovery() }

// LogStartOffset is the first offset still in the log.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// LogEndOffset is the next offset to be assigned.
func (p *Partition) LogEndOffset() int64 { return p.log.EndOffset() }

// SegmentCount is the number of log segments, the active one included.
func (p *Partition) SegmentCount() int { return p.log.SegmentCount() }

// Size is the bytes on disk.
func (p *Partition) Size() int64 { return p.log.Size() }

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
// Kafka code (errors.As to *kerr.Error). It is AppendAcks with acks=1.
func (p *Partition) Append(batch []byte) (AppendResult, error) { return p.AppendAcks(batch, 1) }

// AppendAcks is Append for a producer that asked for acks (0, 1, or -1 for
// all): with acks=-1 a committed ISR smaller than min.insync.replicas
// (bounded by the replication factor) refuses the batch with
// NOT_ENOUGH_REPLICAS before anything is appended. The caller of an
// acks=-1 append then waits with WaitCommitted(ctx, res.LeaderEpoch,
// res.LastOffset). A replica that does not lead answers
// NOT_LEADER_OR_FOLLOWER.
func (p *Partition) AppendAcks(batch []byte, acks int16) (AppendResult, error) {
	return p.appendLeader(batch, acks, -1, false)
}

// AppendDeferFlush is AppendAcks leaving the flush policy's fsync to the
// caller: when the result says FlushDue, the caller calls
// FlushTo(res.LastOffset+1) before it acknowledges the batch. A produce
// request appends all its partitions first and then fsyncs them together,
// and shares each fsync with the requests of other connections (group
// commit, see log.FlushTo).
func (p *Partition) AppendDeferFlush(batch []byte, acks int16) (AppendResult, error) {
	return p.appendLeader(batch, acks, -1, true)
}

// FlushTo returns once every offset below off is fsynced (log.FlushTo).
// An fsync error fails the log: KAFKA_STORAGE_ERROR, as every later
// append gets.
//
// The high watermark counts a batch the flush policy wanted fsynced only
// once it is, so FlushTo moves it on.
func (p *Partition) FlushTo(off int64) error {
	return p.flushed(p.log.FlushTo(off))
}

// flushed moves the high watermark after a flush (see FlushTo).
func (p *Partition) flushed(err error) error {
	if err != nil {
		return mapLogError(err)
	}
	p.stateMu.Lock()
	advanced := p.maybeIncrementHW(p.now())
	p.stateMu.Unlock()
	if advanced {
		p.wakeHW()
	}
	return nil
}

// AppendAsLeader is AppendAcks for a coordinator's own records: the batch
// is appended only if this replica still leads in epoch, the leader epoch
// the coordinator loaded its state in. A replica that no longer leads, or
// leads in another epoch, answers NOT_LEADER_OR_FOLLOWER (which a
// coordinator answers as NOT_COORDINATOR); the check and the append are
// one step under the appender lock, so no role change falls between them.
func (p *Partition) AppendAsLeader(epoch int32, batch []byte, acks int16) (AppendResult, error) {
	if epoch < 0 {
		return AppendResult{}, fmt.Errorf("partition %s-%d: leader epoch %d: %w", p.Topic, p.Index, epoch, kerr.InvalidRequest)
	}
	return p.appendLeader(batch, acks, epoch, false)
}

// appendLeader appends a batch as leader; epoch >= 0 requires that epoch.
func (p *Partition) appendLeader(batch []byte, acks int16, epoch int32, deferFlush bool) (AppendResult, error) {
	cfg := p.cfg.Load()
	now := p.now().UnixMilli()
	vo := record.ValidateOptions{
		MaxDecompressedBytes: decompressBound(cfg.MaxMessageBytes),
		MaxBatchBytes:        int(cfg.MaxMessageBytes),
		RequireKeys:          cfg.Compact,
		Coordinator:          epoch >= 0,
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
	// A coordinator's own batch (AppendAsLeader) may carry a producer id
	// without a sequence: a transactional offset commit.
	opts := log.AppendOptions{LogAppendTime: -1, Coordinator: epoch >= 0}
	if cfg.LogAppendTime {
		opts.LogAppendTime = now
	} else if info.Header.MaxTimestamp != info.MaxTimestamp {
		// Store the max timestamp computed over the records, not the
		// producer's claim, so the time index and ListOffsets -3 are right.
		record.SetMaxTimestamp(batch, info.MaxTimestamp)
	}

	return p.appendChecked(batch, acks, epoch, opts, deferFlush)
}

// AppendMarker appends a transaction marker (WriteTxnMarkers) as leader
// with acks=all's rules: NOT_ENOUGH_REPLICAS while the ISR is under
// min.insync.replicas, NOT_LEADER_OR_FOLLOWER on a replica that does not
// lead, and the producer state's checks (INVALID_PRODUCER_EPOCH,
// TRANSACTION_COORDINATOR_FENCED). A zero Timestamp stamps it with the
// broker's clock, as Kafka's leader does. The caller waits with
// WaitCommitted(ctx, res.LeaderEpoch, res.LastOffset).
func (p *Partition) AppendMarker(m record.Marker) (AppendResult, error) {
	now := p.now().UnixMilli()
	if m.Timestamp == 0 {
		m.Timestamp = now
	}
	opts := log.AppendOptions{LogAppendTime: -1, Coordinator: true}
	if p.cfg.Load().LogAppendTime {
		opts.LogAppendTime = now
	}
	return p.appendChecked(record.BuildMarker(m), -1, -1, opts, false)
}

// appendChecked appends a batch that passed validation as leader, under
// the appender lock, if this replica leads (in epoch, when >= 0) and acks
// allow it, and moves the high watermark. The flush policy's fsync runs
// after the lock is released, or is the caller's when deferFlush.
func (p *Partition) appendChecked(batch []byte, acks int16, epoch int32, opts log.AppendOptions, deferFlush bool) (res AppendResult, err error) {
	if !deferFlush {
		defer func() {
			if err == nil && res.FlushDue {
				res.FlushDue = false
				err = p.FlushTo(res.LastOffset + 1)
			}
		}()
	}
	p.mu.Lock()
	epoch, err = p.checkAppend(acks, epoch)
	if err != nil {
		p.mu.Unlock()
		return AppendResult{}, err
	}
	opts.LeaderEpoch = epoch
	opts.DeferFlush = true
	res, err = p.log.Append(batch, opts)
	advanced := false
	if err == nil && !res.Duplicate {
		// With the leader alone in the ISR (a single node) the batch is
		// committed as soon as it is in the log.
		p.stateMu.Lock()
		advanced = p.maybeIncrementHW(p.now())
		p.stateMu.Unlock()
	}
	p.mu.Unlock()
	if err != nil {
		return res, mapLogError(err)
	}
	if !res.Duplicate {
		p.wakeLEO()
	}
	if advanced {
		p.wakeHW()
	}
	return res, nil
}

// checkAppend says whether a producer's batch may be appended, and in which
// leader epoch; want >= 0 is the only epoch allowed. Caller holds mu, so
// the epoch holds until it appended.
func (p *Partition) checkAppend(acks int16, want int32) (int32, error) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	st := &p.st
	if st.closed || st.role != RoleLeader {
		return 0, p.errNotLeader("not the leader")
	}
	if cur := p.leaderEpoch.Load(); want >= 0 && cur != want {
		return 0, p.errNotLeader(fmt.Sprintf("leads in epoch %d, not %d", cur, want))
	}
	if acks == -1 && len(st.isr) < p.effectiveMinISR() {
		return 0, fmt.Errorf("partition %s-%d: ISR %v is smaller than min.insync.replicas %d: %w",
			p.Topic, p.Index, st.isr, p.effectiveMinISR(), kerr.NotEnoughReplicas)
	}
	return p.leaderEpoch.Load(), nil
}

func mapLogError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, log.ErrOutOfOrderSequence):
		return fmt.Errorf("%w: %w", err, kerr.OutOfOrderSequenceNumber)
	case errors.Is(err, log.ErrInvalidProducerEpoch):
		return fmt.Errorf("%w: %w", err, kerr.InvalidProducerEpoch)
	case errors.Is(err, log.ErrInvalidTxnState):
		return fmt.Errorf("%w: %w", err, kerr.InvalidTxnState)
	case errors.Is(err, log.ErrCoordinatorFenced):
		return fmt.Errorf("%w: %w", err, kerr.TransactionCoordinatorFenced)
	case errors.Is(err, log.ErrClosed):
		return fmt.Errorf("%w: %w", err, kerr.NotLeaderForPartition)
	case errors.Is(err, log.ErrCorruptBatch):
		return fmt.Errorf("%w: %w", err, kerr.CorruptMessage)
	case errors.Is(err, log.ErrUnexpectedAppendOffset):
		// Not a client's error: the follower's fetcher resyncs.
		return err
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
	// Aborted lists, for a read_committed read, the aborted transactions
	// that overlap the records read, for the consumer to drop (nil for a
	// read_uncommitted one, and when there are none).
	Aborted []log.AbortedTxn

	read log.ReadResult // the log's answer behind Slice
}

// Read returns up to maxBytes from offset, never past the high watermark,
// or for read_committed the last stable offset, with the aborted
// transactions among the records read. An offset outside [log start, log
// end] is OFFSET_OUT_OF_RANGE.
func (p *Partition) Read(offset int64, maxBytes int64, minOne, readCommitted bool) (ReadResult, error) {
	hw := *p.hw.Load()
	lso := p.log.LastStableOffset(hw.Offset)
	upTo := hw
	if readCommitted && lso < hw.Offset {
		if offset >= lso {
			// Nothing is readable; a position for lso is not needed (it
			// may even lie below the log start).
			upTo = log.Position{Offset: lso}
		} else {
			pos, err := p.log.PositionOf(lso)
			if err != nil {
				code := kerr.KafkaStorageError
				if errors.Is(err, log.ErrOffsetOutOfRange) {
					code = kerr.OffsetOutOfRange // retention passed offset meanwhile
				}
				return ReadResult{HighWatermark: hw.Offset, LastStableOffset: lso, LogStartOffset: p.log.StartOffset()},
					fmt.Errorf("partition %s-%d: last stable offset %d: %w: %w", p.Topic, p.Index, lso, err, code)
			}
			upTo = pos
		}
	}
	res, err := p.read(offset, maxBytes, minOne, hw, upTo)
	res.LastStableOffset = lso
	if err != nil || !readCommitted || res.Slice.Len == 0 {
		return res, err
	}
	if res.Aborted, err = p.log.AbortedTxnsRead(offset, res.read, upTo); err != nil {
		res.Slice.Release()
		res.Slice = log.Slice{}
		return res, fmt.Errorf("partition %s-%d: aborted transactions: %w: %w", p.Topic, p.Index, err, kerr.KafkaStorageError)
	}
	return res, nil
}

// ReadForFollower is Read for a follower's fetch on the leader: it reads up
// to the log end, not the high watermark (the result still reports the
// high watermark, which the follower adopts). The caller checks the
// leadership first (CheckLeader) and records the fetch (UpdateFollower).
func (p *Partition) ReadForFollower(offset int64, maxBytes int64, minOne bool) (ReadResult, error) {
	hw := *p.hw.Load()
	res, err := p.read(offset, maxBytes, minOne, hw, p.log.EndPosition())
	res.LastStableOffset = p.log.LastStableOffset(hw.Offset)
	return res, err
}

func (p *Partition) read(offset, maxBytes int64, minOne bool, hw, upTo log.Position) (ReadResult, error) {
	res := ReadResult{HighWatermark: hw.Offset, LastStableOffset: hw.Offset, LogStartOffset: p.log.StartOffset()}
	if offset < res.LogStartOffset || offset > p.log.EndOffset() {
		return res, fmt.Errorf("partition %s-%d: offset %d outside [%d, %d]: %w",
			p.Topic, p.Index, offset, res.LogStartOffset, p.log.EndOffset(), kerr.OffsetOutOfRange)
	}
	if offset >= upTo.Offset {
		return res, nil
	}
	r, err := p.log.Read(offset, maxBytes, upTo, minOne)
	if err != nil {
		if errors.Is(err, log.ErrOffsetOutOfRange) {
			return res, fmt.Errorf("%w: %w", err, kerr.OffsetOutOfRange)
		}
		return res, fmt.Errorf("%w: %w", err, kerr.KafkaStorageError)
	}
	res.Slice, res.read = r.Slice, r
	return res, nil
}

// ListOffset answers ListOffsets for one timestamp (or special value):
// -1 latest, -2 earliest, -3 max timestamp, -4 earliest local; otherwise
// the first offset whose timestamp is >= ts, or (-1, -1) if none is. As in
// Kafka, what a consumer could not fetch is not answered: latest is the
// high watermark, or the last stable offset for read_committed, and an
// offset found by timestamp must lie below it.
func (p *Partition) ListOffset(ts int64, readCommitted bool) (offset, timestamp int64, err error) {
	bound := p.HighWatermark()
	if readCommitted {
		bound = p.log.LastStableOffset(bound)
	}
	limit := decompressBound(p.cfg.Load().MaxMessageBytes)
	switch ts {
	case -1:
		return bound, -1, nil
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
		if err != nil || off >= bound {
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
	if !ok || off >= bound {
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

// AddWaiter registers ch to receive a non-blocking send whenever the high
// watermark moves (consumers' long polls, acks=all producers), and when
// the replica's role or epoch changes or it closes; the returned func
// unregisters it. ch should have room for one value so a wake-up between
// a check and a wait is not lost.
func (p *Partition) AddWaiter(ch chan<- struct{}) (remove func()) {
	return p.addWaiter(p.hwWaiters, ch)
}

// AddLEOWaiter is AddWaiter for the log end: ch is woken whenever the log
// end moves (an append, a truncation), for followers' long polls on the
// leader, and on role changes and close.
func (p *Partition) AddLEOWaiter(ch chan<- struct{}) (remove func()) {
	return p.addWaiter(p.leoWaiters, ch)
}

func (p *Partition) addWaiter(set map[chan<- struct{}]struct{}, ch chan<- struct{}) func() {
	p.waitMu.Lock()
	set[ch] = struct{}{}
	p.waitMu.Unlock()
	return func() {
		p.waitMu.Lock()
		delete(set, ch)
		p.waitMu.Unlock()
	}
}

func (p *Partition) wakeHW()  { p.wake(p.hwWaiters) }
func (p *Partition) wakeLEO() { p.wake(p.leoWaiters) }
func (p *Partition) wakeAll() { p.wake(p.hwWaiters, p.leoWaiters) }

func (p *Partition) wake(sets ...map[chan<- struct{}]struct{}) {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	for _, set := range sets {
		for ch := range set {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// ExpireProducers forgets the producers that have not written for
// expiration (producer.id.expiration.ms); see log.ExpireProducers.
func (p *Partition) ExpireProducers(now time.Time, expiration time.Duration) int {
	return p.log.ExpireProducers(now, expiration)
}

// Producers lists the producers the log keeps state for.
func (p *Partition) Producers() []log.ProducerInfo { return p.log.Producers() }

// Flush fsyncs the log.
func (p *Partition) Flush() error { return p.flushed(p.log.Flush()) }

// FlushIfDue fsyncs the log if flush.ms has passed since unflushed data
// was appended.
func (p *Partition) FlushIfDue() error {
	// Called on every partition periodically: the high watermark is
	// looked at only where the flush policy held it back.
	held := p.log.FlushBound() < p.log.EndPosition().Offset
	if err := p.log.FlushIfDue(); err != nil || held {
		return p.flushed(err)
	}
	return nil
}

// Close closes the log cleanly and wakes waiters so they re-check (an
// acks=all wait then fails with NOT_LEADER_OR_FOLLOWER).
func (p *Partition) Close() error {
	p.mu.Lock()
	p.markClosed()
	err := p.log.Close()
	p.mu.Unlock()
	p.wakeAll()
	return err
}

// CloseForDelete closes the log of a replica being deleted, writing
// nothing (see log.CloseForDelete), and wakes waiters so they re-check.
// The caller removes the directory.
func (p *Partition) CloseForDelete() {
	p.mu.Lock()
	p.markClosed()
	p.log.CloseForDelete()
	p.mu.Unlock()
	p.wakeAll()
}

func (p *Partition) markClosed() {
	p.stateMu.Lock()
	p.st.closed = true
	p.stateMu.Unlock()
}

// OngoingTxn reports whether producer pid has a transaction open in this
// partition (a transactional batch appended and no marker after it), so a
// produce of its next transactional batch needs no verification with the
// transaction coordinator (KIP-890).
func (p *Partition) OngoingTxn(pid int64) bool { return p.log.OngoingTxn(pid) }
