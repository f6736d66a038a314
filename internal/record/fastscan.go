package record

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
	p := 0
	// As Kafka, the max starts at NoTimestamp: negative timestamps never
	// raise it.
	minTS, maxTS = 1<<63-1, NoTimestamp
	for i := int32(0); i < n; i++ {
		// Record length.
		if p >= len(b) {
			return
		}
		var size int
		if c := b[p]; c < 0x80 {
			size = int(int32(c>>1) ^ -int32(c&1))
			p++
		} else {
			v, m := readVarintSlow(b[p:])
			if m == 0 {
				return
			}
			size, p = int(v), p+m
		}
		if size <= 0 || size > len(b)-p {
			return
		}
		end := p + size
		q := p + 1 // skip attributes
		// Timestamp delta.
		if q >= end {
			return
		}
		var tsd int64
		if c := b[q]; c < 0x80 {
			tsd = int64(c>>1) ^ -int64(c&1)
			q++
		} else {
			v, m := readVarlongSlow(b[q:end])
			if m == 0 {
				return
			}
			tsd, q = v, q+m
		}
		// Offset delta: must be exactly i.
		if q >= end {
			return
		}
		if c := b[q]; c < 0x80 {
			if int32(c>>1)^-int32(c&1) != i {
				return
			}
			q++
		} else {
			v, m := readVarintSlow(b[q:end])
			if m == 0 || v != i {
				return
			}
			q += m
		}
		// Key and value: nullable bytes.
		for f := 0; f < 2; f++ {
			if q >= end {
				return
			}
			var l int
			if c := b[q]; c < 0x80 {
				l = int(int32(c>>1) ^ -int32(c&1))
				q++
			} else {
				v, m := readVarintSlow(b[q:end])
				if m == 0 {
					return
				}
				l, q = int(v), q+m
			}
			switch {
			case l == -1:
				if f == 0 {
					nullKey = true
				}
			case l < -1 || l > end-q:
				return
			default:
				q += l
			}
		}
		// Headers: let the iterator handle any; most batches have none.
		if q >= end || b[q] != 0 {
			return
		}
		q++
		if q != end {
			return
		}
		p = end
		ts := baseTS + tsd
		if ts > maxTS {
			maxTS, maxIdx = ts, i
		}
		minTS = min(minTS, ts)
	}
	return minTS, maxTS, maxIdx, nullKey, p == len(b)
}
