package record

import "hash/crc32"

// fastScan is the produce hot path's record check for the common batch:
// it walks the records once with the varint fast paths written inline and
// accepts the batch only if every check the record iterator makes passes
// (lengths in bounds, record bodies consumed exactly, offset deltas exactly
// 0..n-1, header structure, nothing after the last record). On anything
// unusual it reports ok=false and Validate falls back to the iterator,
// which finds and words the error. FuzzFastScanAgrees checks that the two
// agree.
//
// It returns the min and max record timestamps, the offset delta of the
// first record with the max, and whether any record has a null key.
func fastScan(b []byte, n int32, baseTS int64) (minTS, maxTS int64, maxIdx int32, nullKey, ok bool) {
	sc := newScan(n, baseTS)
	sc.run(b, len(b))
	return sc.result(b)
}

// scan is fastScan's state, so that the walk can go a stretch at a time
// (crcAndScan interleaves it with the CRC while the bytes are in cache).
type scan struct {
	p       int   // start of the next record
	i       int32 // its index
	n       int32
	baseTS  int64
	minTS   int64
	maxTS   int64
	maxIdx  int32
	nullKey bool
	failed  bool
}

func newScan(n int32, baseTS int64) scan {
	// As Kafka, the max starts at NoTimestamp: negative timestamps never
	// raise it.
	return scan{n: n, baseTS: baseTS, minTS: 1<<63 - 1, maxTS: NoTimestamp}
}

func (sc *scan) result(b []byte) (minTS, maxTS int64, maxIdx int32, nullKey, ok bool) {
	return sc.minTS, sc.maxTS, sc.maxIdx, sc.nullKey, !sc.failed && sc.i == sc.n && sc.p == len(b)
}

// run checks the records of b that start before limit.
func (sc *scan) run(b []byte, limit int) {
	if sc.failed {
		return
	}
	// The loop works on locals (registers); the state is stored back on
	// the way out.
	p, i, n, baseTS := sc.p, sc.i, sc.n, sc.baseTS
	minTS, maxTS, maxIdx, nullKey := sc.minTS, sc.maxTS, sc.maxIdx, sc.nullKey
	failed := false
records:
	for ; i < n && p < limit; i++ {
		// Record length.
		size, m := short(b, p)
		if m == 0 {
			v, m2 := readVarintSlow(b[min(p, len(b)):])
			if m2 == 0 {
				failed = true
				break records
			}
			size, m = v, m2
		}
		if size <= 0 || int(size) > len(b)-p-m {
			failed = true
			break records
		}
		end := p + m + int(size)
		r := b[:end]   // the record's fields must end inside it
		q := p + m + 1 // skip attributes
		// Timestamp delta.
		tsd, m := short(r, q)
		tsd64 := int64(tsd)
		if m == 0 {
			v, m2 := readVarlongSlow(r[min(q, end):])
			if m2 == 0 {
				failed = true
				break records
			}
			tsd64, m = v, m2
		}
		q += m
		// Offset delta: must be exactly i.
		od, m := short(r, q)
		if m == 0 {
			v, m2 := readVarintSlow(r[min(q, end):])
			if m2 == 0 {
				failed = true
				break records
			}
			od, m = v, m2
		}
		if od != i {
			failed = true
			break records
		}
		q += m
		// Key and value: nullable bytes.
		for f := 0; f < 2; f++ {
			l, m := short(r, q)
			if m == 0 {
				v, m2 := readVarintSlow(r[min(q, end):])
				if m2 == 0 {
					failed = true
					break records
				}
				l, m = v, m2
			}
			q += m
			switch {
			case l == -1:
				if f == 0 {
					nullKey = true
				}
			case l < -1 || int(l) > end-q:
				failed = true
				break records
			default:
				q += int(l)
			}
		}
		// Headers: let the iterator handle any; most batches have none.
		if q+1 != end || b[q] != 0 {
			failed = true
			break records
		}
		p = end
		ts := baseTS + tsd64
		if ts > maxTS {
			maxTS, maxIdx = ts, i
		}
		minTS = min(minTS, ts)
	}
	sc.p, sc.i, sc.failed = p, i, failed
	sc.minTS, sc.maxTS, sc.maxIdx, sc.nullKey = minTS, maxTS, maxIdx, nullKey
}

// crcScanChunk is how much of a batch crcAndScan hashes before walking the
// records in it: small enough to stay in the L1 cache between the two.
const crcScanChunk = 16 << 10

// crcAndScan computes an uncompressed batch's CRC (as ComputeCRC) and runs
// the record scan in the same pass, a chunk at a time, so the records are
// read from the cache the CRC just filled instead of from memory again.
func crcAndScan(b []byte, sc *scan) uint32 { return crcAndScanBy(b, sc, crcScanChunk) }

func crcAndScanBy(b []byte, sc *scan, chunk int) uint32 {
	data := b[AttributesOffset:]
	records := b[HeaderSize:]
	const shift = HeaderSize - AttributesOffset // records[k] is data[k+shift]
	var crc uint32
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		crc = crc32.Update(crc, castagnoli, data[off:end])
		sc.run(records, end-shift)
	}
	return crc
}

// short decodes the zigzag varint at b[p:] when it takes one or two bytes
// (every length and delta below 8 KiB) and another byte follows it, which
// holds for every field a well-formed record has before its header count.
// It is small enough to be inlined; m is 0 otherwise, for the caller's
// slow path.
func short(b []byte, p int) (v int32, m int) {
	if p+1 < len(b) {
		u := uint32(b[p])
		if u >= 0x80 {
			c := uint32(b[p+1])
			if c >= 0x80 {
				return 0, 0
			}
			u, m = u&0x7f|c<<7, 1
		}
		return int32(u>>1) ^ -int32(u&1), m + 1
	}
	return 0, 0
}
