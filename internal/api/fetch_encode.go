package api

// A Fetch response cannot be built by kmsg in one buffer if the record
// batches are to go from the segment files to the socket with sendfile, so
// this encoder writes everything around the records itself and leaves each
// partition's records as a file region. TestFetchEncoderMatchesKmsg checks
// it byte for byte against kmsg for every served version.

import (
	"encoding/binary"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/wire"
)

type fetchPartition struct {
	index            int32
	errorCode        int16
	highWatermark    int64
	lastStable       int64
	logStart         int64
	abortedEmptyList bool // read_committed: an empty (not null) aborted list
	// aborted: the aborted transactions among the records, for a
	// read_committed fetch (a non-null list even when empty).
	aborted     []log.AbortedTxn
	records     *wire.Region
	recordBytes []byte // records held in memory (tests, non-file data)
	// diverging: a follower's log left the leader's at divergingEpoch,
	// which ends at divergingEnd on the leader (KIP-595, v12+ tag 0).
	diverging      bool
	divergingEpoch int32
	divergingEnd   int64
	// leaderHint: a NOT_LEADER_OR_FOLLOWER answer names the partition's
	// current leader and epoch (KIP-951, v12+ tag 1).
	leaderHint  bool
	leaderID    int32
	leaderEpoch int32
}

// fetchNode is a broker endpoint sent with leader hints (v16+, tag 0).
type fetchNode struct {
	id   int32
	host string
	port int32
	rack *string
}

type fetchTopic struct {
	name       string
	id         [16]byte
	partitions []fetchPartition
}

type fetchBody struct {
	version   int16
	errorCode int16
	sessionID int32
	topics    []fetchTopic
	nodes     []fetchNode // the hinted leaders' endpoints (v16+)
}

type chunkWriter struct {
	buf    []byte
	chunks []wire.Chunk
}

func (w *chunkWriter) int16(v int16) { w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(v)) }
func (w *chunkWriter) int32(v int32) { w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(v)) }
func (w *chunkWriter) int64(v int64) { w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(v)) }
func (w *chunkWriter) uvarint(v uint64) {
	w.buf = binary.AppendUvarint(w.buf, v)
}

// arrayLen writes an array length: compact (n+1 as uvarint) when flexible.
func (w *chunkWriter) arrayLen(n int, flexible bool) {
	if flexible {
		w.uvarint(uint64(n) + 1)
	} else {
		w.int32(int32(n))
	}
}

func (w *chunkWriter) string(s string, flexible bool) {
	if flexible {
		w.uvarint(uint64(len(s)) + 1)
	} else {
		w.int16(int16(len(s)))
	}
	w.buf = append(w.buf, s...)
}

func (w *chunkWriter) region(r *wire.Region) {
	if len(w.buf) > 0 {
		w.chunks = append(w.chunks, wire.Chunk{Bytes: w.buf})
		w.buf = nil
	}
	w.chunks = append(w.chunks, wire.Chunk{Region: r})
}

func (w *chunkWriter) finish() []wire.Chunk {
	if len(w.buf) > 0 {
		w.chunks = append(w.chunks, wire.Chunk{Bytes: w.buf})
		w.buf = nil
	}
	return w.chunks
}

// encode writes the response body at b.version (4 through 16).
func (b *fetchBody) encode() []wire.Chunk {
	v := b.version
	flex := v >= 12
	w := &chunkWriter{buf: make([]byte, 0, 256)}
	w.int32(0) // throttle
	if v >= 7 {
		w.int16(b.errorCode)
		w.int32(b.sessionID)
	}
	w.arrayLen(len(b.topics), flex)
	for i := range b.topics {
		t := &b.topics[i]
		if v >= 13 {
			w.buf = append(w.buf, t.id[:]...)
		} else {
			w.string(t.name, flex)
		}
		w.arrayLen(len(t.partitions), flex)
		for j := range t.partitions {
			p := &t.partitions[j]
			w.int32(p.index)
			w.int16(p.errorCode)
			w.int64(p.highWatermark)
			w.int64(p.lastStable)
			if v >= 5 {
				w.int64(p.logStart)
			}
			switch {
			case p.abortedEmptyList || len(p.aborted) > 0:
				w.arrayLen(len(p.aborted), flex)
				for _, a := range p.aborted {
					w.int64(a.ProducerID)
					w.int64(a.FirstOffset)
					if flex {
						w.uvarint(0) // its tags
					}
				}
			case flex:
				w.uvarint(0) // null
			default:
				w.int32(-1) // null
			}
			if v >= 11 {
				w.int32(-1) // preferred read replica
			}
			n := len(p.recordBytes)
			if p.records != nil {
				n = int(p.records.Len)
			}
			if flex {
				w.uvarint(uint64(n) + 1)
			} else {
				w.int32(int32(n))
			}
			if p.records != nil && p.records.Len > 0 {
				w.region(p.records)
			} else {
				w.buf = append(w.buf, p.recordBytes...)
			}
			if flex {
				tags := 0
				if p.diverging {
					tags++
				}
				if p.leaderHint {
					tags++
				}
				w.uvarint(uint64(tags))
				if p.diverging {
					w.uvarint(0) // DivergingEpoch
					w.uvarint(4 + 8 + 1)
					w.int32(p.divergingEpoch)
					w.int64(p.divergingEnd)
					w.uvarint(0) // its tags
				}
				if p.leaderHint {
					w.uvarint(1) // CurrentLeader
					w.uvarint(4 + 4 + 1)
					w.int32(p.leaderID)
					w.int32(p.leaderEpoch)
					w.uvarint(0) // its tags
				}
			}
		}
		if flex {
			w.uvarint(0) // topic tags
		}
	}
	switch {
	case v >= 16 && len(b.nodes) > 0:
		nw := &chunkWriter{}
		nw.arrayLen(len(b.nodes), true)
		for _, n := range b.nodes {
			nw.int32(n.id)
			nw.string(n.host, true)
			nw.int32(n.port)
			if n.rack == nil {
				nw.uvarint(0) // null
			} else {
				nw.string(*n.rack, true)
			}
			nw.uvarint(0) // its tags
		}
		w.uvarint(1) // one tag
		w.uvarint(0) // NodeEndpoints
		w.uvarint(uint64(len(nw.buf)))
		w.buf = append(w.buf, nw.buf...)
	case flex:
		w.uvarint(0) // response tags
	}
	return w.finish()
}
