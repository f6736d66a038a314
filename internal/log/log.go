package log

// Placeholder bodies: the storage-engine implementation replaces this file.

// Log is one partition's log: an ordered set of segments in one directory.
type Log struct{}

// Open opens (creating if needed) the log in dir, recovering it if the last
// shutdown was not clean.
func Open(dir string, opts Options) (*Log, error) { panic("unimplemented") }

// Append validates the producer state of one whole, already validated
// batch (record.Validate), assigns it offsets from the log end, writes it,
// and flushes per the flush policy.
func (l *Log) Append(batch []byte, opts AppendOptions) (AppendResult, error) {
	panic("unimplemented")
}

// Read returns the bytes from the batch containing offset up to maxBytes,
// never past upTo (a Position at or below the log end, usually the high
// watermark). The slice may end inside a batch (clients drop a partial
// trailing batch), except that when minOne is set and the first batch is
// larger than maxBytes the whole first batch is returned (KIP-74).
func (l *Log) Read(offset int64, maxBytes int64, upTo Position, minOne bool) (ReadResult, error) {
	panic("unimplemented")
}

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 { panic("unimplemented") }

// EndOffset is the log end offset (the next offset to be assigned).
func (l *Log) EndOffset() int64 { panic("unimplemented") }

// EndPosition is the log end as a Position.
func (l *Log) EndPosition() Position { panic("unimplemented") }

// FindByTimestamp returns a copy of the first batch whose max timestamp is
// >= ts, or nil when no batch qualifies.
func (l *Log) FindByTimestamp(ts int64) ([]byte, error) { panic("unimplemented") }

// MaxTimestampBatch returns a copy of the batch holding the largest
// timestamp in the log (the first such batch), or nil for an empty log.
func (l *Log) MaxTimestampBatch() ([]byte, error) { panic("unimplemented") }

// Size is the total bytes of all segments.
func (l *Log) Size() int64 { panic("unimplemented") }

// Flush fsyncs everything appended so far.
func (l *Log) Flush() error { panic("unimplemented") }

// Close flushes, writes producer-state snapshots and the clean-shutdown
// marker, and closes all files.
func (l *Log) Close() error { panic("unimplemented") }

// Delete closes the log and removes its directory (topic deletion).
func (l *Log) Delete() error { panic("unimplemented") }

// SetConfig applies new configuration to a live log.
func (l *Log) SetConfig(c Config) { panic("unimplemented") }
