package log

import "crypto/md5"

// offsetMap is the cleaner's key → latest offset map, as Kafka's
// SkimpyOffsetMap: a key is stored as its MD5 digest (16 bytes) next to an
// 8-byte offset, 24 bytes an entry, in an open-addressing table with linear
// probing. Two keys whose digests collide would share an entry (and the
// older one's records would go); at 128 bits that is not a practical risk.
//
// The table starts small and doubles up to the slot count that maxBytes
// allows; full reports when one more key might not fit at a load factor
// of 3/4, and the cleaner then ends its dirty range early.
type offsetMap struct {
	hashes   [][md5.Size]byte
	offsets  []int64 // -1: empty slot
	n        int
	maxSlots int
}

const offsetMapEntryBytes = md5.Size + 8

func newOffsetMap(maxBytes int) *offsetMap {
	maxSlots := 16
	for maxSlots*2*offsetMapEntryBytes <= maxBytes {
		maxSlots *= 2
	}
	m := &offsetMap{maxSlots: maxSlots}
	m.alloc(min(1024, maxSlots))
	return m
}

func (m *offsetMap) alloc(slots int) {
	m.hashes = make([][md5.Size]byte, slots)
	m.offsets = make([]int64, slots)
	for i := range m.offsets {
		m.offsets[i] = -1
	}
}

// full reports whether the map cannot promise room for another key.
func (m *offsetMap) full() bool { return m.n+1 > m.maxSlots*3/4 }

// bytes is the memory the table holds.
func (m *offsetMap) bytes() int { return len(m.offsets) * offsetMapEntryBytes }

func (m *offsetMap) slot(h *[md5.Size]byte) int {
	mask := len(m.offsets) - 1
	i := int(uint64(h[0])|uint64(h[1])<<8|uint64(h[2])<<16|uint64(h[3])<<24|uint64(h[4])<<32|uint64(h[5])<<40) & mask
	for m.offsets[i] >= 0 && m.hashes[i] != *h {
		i = (i + 1) & mask
	}
	return i
}

// put records offset as the latest for key. The caller checks full first.
func (m *offsetMap) put(key []byte, offset int64) {
	h := md5.Sum(key)
	if (m.n+1)*4 > len(m.offsets)*3 && len(m.offsets) < m.maxSlots {
		m.grow()
	}
	i := m.slot(&h)
	if m.offsets[i] < 0 {
		m.hashes[i] = h
		m.n++
	}
	m.offsets[i] = offset
}

// get returns the latest offset of key, or -1.
func (m *offsetMap) get(key []byte) int64 {
	h := md5.Sum(key)
	return m.offsets[m.slot(&h)]
}

func (m *offsetMap) grow() {
	hashes, offsets := m.hashes, m.offsets
	size := len(offsets) * 2
	if size > m.maxSlots {
		// Keep a power of two: the probe masks with size-1.
		return
	}
	m.alloc(size)
	for i, off := range offsets {
		if off >= 0 {
			j := m.slot(&hashes[i])
			m.hashes[j], m.offsets[j] = hashes[i], off
		}
	}
}
