package record

import "encoding/binary"

// Records use zigzag varints (Kafka's ByteUtils.readVarint/readVarlong),
// the same encoding as encoding/binary's Varint. The readers here are
// stricter than Kafka's: a varint longer than its type allows, or one whose
// value overflows the type, is malformed rather than silently truncated.

// readVarint decodes a zigzag varint of at most 5 bytes that fits an int32.
// n is 0 when b ends early or the varint is malformed. The one-byte case
// (most deltas, counts and short lengths) is small enough to inline into
// the record parser, which runs once per produced record.
func readVarint(b []byte) (v int32, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	return readVarintSlow(b)
}

func readVarintSlow(b []byte) (v int32, n int) {
	if len(b) > 1 && b[1] < 0x80 { // two bytes: lengths up to 8 KiB
		u := uint32(b[0]&0x7f) | uint32(b[1])<<7
		return int32(u>>1) ^ -int32(u&1), 2
	}
	var u uint64
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		u |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if u > 0xffffffff {
				return 0, 0
			}
			x := uint32(u)
			return int32(x>>1) ^ -int32(x&1), i + 1
		}
	}
	return 0, 0
}

// readVarlong decodes a zigzag varint of at most 10 bytes that fits an
// int64. n is 0 when b ends early or the varint is malformed.
func readVarlong(b []byte) (v int64, n int) {
	if len(b) > 0 && b[0] < 0x80 {
		u := uint64(b[0])
		return int64(u>>1) ^ -int64(u&1), 1
	}
	return readVarlongSlow(b)
}

func readVarlongSlow(b []byte) (v int64, n int) {
	v, n = binary.Varint(b)
	if n <= 0 {
		return 0, 0
	}
	return v, n
}

// readNullableBytes decodes a varint length then that many bytes; length
// -1 is null (nil). Kafka reads any negative length as null; a length below
// -1 is never written by a client, so we call it malformed.
func readNullableBytes(b []byte) (field, rest []byte, ok bool) {
	l, n := readVarint(b)
	if n == 0 || l < -1 || int(l) > len(b)-n {
		return nil, nil, false
	}
	b = b[n:]
	if l < 0 {
		return nil, b, true
	}
	return b[:l:l], b[l:], true
}

func appendVarint(b []byte, v int32) []byte {
	return binary.AppendUvarint(b, uint64(uint32(v<<1)^uint32(v>>31)))
}

func appendVarlong(b []byte, v int64) []byte {
	return binary.AppendVarint(b, v)
}

func varintLen(v int32) int {
	u := uint32(v<<1) ^ uint32(v>>31)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

func varlongLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

// nullableBytesLen is the encoded size of b as a varint length and its
// bytes (nil is null).
func nullableBytesLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int32(len(b))) + len(b)
}

func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return appendVarint(dst, -1)
	}
	dst = appendVarint(dst, int32(len(b)))
	return append(dst, b...)
}
