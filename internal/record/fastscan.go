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
		size, m := short(b, p)
		if m == 0 {
			v, m2 := readVarintSlow(b[min(p, len(b)):])
			if m2 == 0 {
				return
			}
			size, m = v, m2
		}
		p += m
		if size <= 0 || int(size) > len(b)-p {
			return
		}
		end := p + int(size)
		r := b[:end] // the record's fields must end inside it
		q := p + 1   // skip attributes
		// Timestamp delta.
		tsd, m := short(r, q)
		tsd64 := int64(tsd)
		if m == 0 {
			v, m2 := readVarlongSlow(r[min(q, end):])
			if m2 == 0 {
				return
			}
			tsd64, m = v, m2
		}
		q += m
		// Offset delta: must be exactly i.
		od, m := short(r, q)
		if m == 0 {
			v, m2 := readVarintSlow(r[min(q, end):])
			if m2 == 0 {
				return
			}
			od, m = v, m2
		}
		if od != i {
			return
		}
		q += m
		// Key and value: nullable bytes.
		for f := 0; f < 2; f++ {
			l, m := short(r, q)
			if m == 0 {
				v, m2 := readVarintSlow(r[min(q, end):])
				if m2 == 0 {
					return
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
				return
			default:
				q += int(l)
			}
		}
		// Headers: let the iterator handle any; most batches have none.
		if q+1 != end || b[q] != 0 {
			return
		}
		p = end
		ts := baseTS + tsd64
		if ts > maxTS {
			maxTS, maxIdx = ts, i
		}
		minTS = min(minTS, ts)
	}
	return minTS, maxTS, maxIdx, nullKey, p == len(b)
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
