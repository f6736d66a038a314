package log

// This file fixes the storage engine's exported surface that the rest of
// samsa is written against. The bodies are placeholders to be replaced by
// the implementation (keep the signatures; add to them freely).

import (
	"errors"
	"log/slog"
	"time"
)

// Config is the per-partition log configuration (resolved topic configs).
// A zero (or negative) field takes Kafka's default; FlushMessages and
// FlushMs then mean "never", leaving flushing to the OS and Flush.
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll before a batch would exceed it
	SegmentMs          int64 // segment.ms: roll when the active segment is older
	IndexIntervalBytes int64 // index.interval.bytes (4096)
	SegmentIndexBytes  int64 // segment.index.bytes: max .index/.timeindex size (10 MiB)
	FlushMessages      int64 // flush.messages: fsync after this many records (MaxInt64: never by count)
	FlushMs            int64 // flush.ms: fsync when unflushed data is older (MaxInt64: never by time)
	// FileDeleteDelayMs is file.delete.delay.ms: how long a deleted
	// segment's files wait, renamed *.deleted, before they are removed.
	// Unlike the fields above, zero means no wait: the caller resolves
	// Kafka's default (60000) with the rest of the topic configs.
	FileDeleteDelayMs int64
	// Preallocate is preallocate: reserve a segment's whole segment.bytes
	// on disk when its first batch is appended, instead of in steps.
	Preallocate bool
}

// Options open a log.
type Options struct {
	FS     FS // nil: the OS filesystem
	Config Config
	Logger *slog.Logger // nil: slog.Default()
	Now    func() time.Time
	// AfterFunc runs f once d has passed and returns a stop function with
	// time.Timer.Stop's meaning (nil: time.AfterFunc). It times the
	// removal of deleted segments; tests inject a fake clock. It must not
	// call f before it returns.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// OnFailure, when set, is called once, from the failing write, when
	// the log fails (ErrFailed): an fsync or a write that could not be
	// undone. It must not call back into the log.
	OnFailure func(dir string, err error)
	// OnFlush, when set, is told how long each successful Flush took
	// (Kafka's LogFlushRateAndTimeMs); it must be cheap and not call back
	// into the log.
	OnFlush func(d time.Duration)
}

// Position is an offset together with where it sits in the log: the base
// offset of its segment and the byte position in that segment. A high
// watermark is kept as a Position so a read can stop at it without a lookup.
type Position struct {
	Offset      int64
	SegmentBase int64
	FilePos     int64
}

// AppendOptions qualify one append.
type AppendOptions struct {
	// LeaderEpoch is written into the batch's partitionLeaderEpoch.
	LeaderEpoch int32
	// LogAppendTime, when >= 0, makes the batch a LogAppendTime batch with
	// this max timestamp (the CRC is recomputed).
	LogAppendTime int64
	// Coordinator marks a coordinator's own batch (Kafka's
	// AppendOrigin.COORDINATOR): a batch with a producer id and no
	// sequence (a transactional offset commit) is accepted without the
	// sequence checks a client's batch gets; the epoch is still checked.
	Coordinator bool
	// DeferFlush leaves the fsync the flush policy asks for to the
	// caller: the result says FlushDue, and the caller calls
	// FlushTo(res.LastOffset+1) before it acknowledges the batch, with
	// none of its own locks held, so that appends go on meanwhile and
	// concurrent callers share one fsync (group commit).
	DeferFlush bool
}

// AppendResult tells where a batch went.
type AppendResult struct {
	BaseOffset int64
	LastOffset int64
	// LogAppendTime is the timestamp written, or -1.
	LogAppendTime int64
	// Duplicate: the batch repeats one of the producer's last five batches;
	// nothing was appended and the offsets are the original ones.
	Duplicate      bool
	LogStartOffset int64
	// End is the log end after this append.
	End Position
	// LeaderEpoch is the partition leader epoch the batch carries (for a
	// duplicate, the epoch asked for; for AppendReplicated, the last
	// batch's).
	LeaderEpoch int32
	// FlushDue: the flush policy asks that the batch be fsynced before
	// it is acknowledged, and the append left that to the caller
	// (AppendOptions.DeferFlush, AppendReplicatedDeferFlush). For a
	// duplicate it says that the original is not yet known durable.
	FlushDue bool
}

// Errors from Append that map to Kafka error codes.
var (
	ErrOutOfOrderSequence   = errors.New("log: out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("log: invalid producer epoch")
	// ErrInvalidTxnState: a non-transactional batch from a producer whose
	// transaction is open in the partition (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("log: invalid transaction state")
	// ErrCoordinatorFenced: a marker from an older transaction coordinator
	// epoch than the producer's last marker (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("log: transaction coordinator fenced")
	ErrClosed            = errors.New("log: closed")
	// ErrFailed: an earlier I/O failure (a failed fsync, a write that could
	// not be undone) left the files in doubt; the log refuses writes until
	// it is reopened, which recovers it. Kafka takes the log dir offline.
	ErrFailed = errors.New("log: failed after an I/O error; reopen to recover")
)

// Slice is a byte range of one segment file handed to a reader. The segment
// stays open until Release, even if it is deleted meanwhile.
type Slice struct {
	File    File
	Pos     int64
	Len     int64
	release func()
}

// Release unpins the segment behind the slice. Safe to call more than once.
func (s *Slice) Release() {
	if s.release != nil {
		s.release()
		s.release = nil
	}
}

// ReadResult is the answer to a Read.
type ReadResult struct {
	Slice Slice // Len 0 when there is nothing to read
	// FirstBatchOffset is the base offset of the first batch in Slice.
	FirstBatchOffset int64

	seg *segment // Slice's segment, pinned by the Slice
}

// ErrOffsetOutOfRange: the offset is below the log start or above the end.
var ErrOffsetOutOfRange = errors.New("log: offset out of range")
