// Package hotkeys finds the most frequent record keys of each partition
// as records are produced: the question behind a hot partition is which
// keys make it hot. Each partition keeps a Space-Saving sketch (Metwally,
// Agrawal and El Abbadi, "Efficient Computation of Frequent and Top-k
// Elements in Data Streams", 2005) of a fixed number of counters, so the
// memory per partition is bounded whatever the key space, and every key
// whose share of the stream exceeds 1/k is guaranteed to be in it.
package hotkeys

import (
	"sort"
	"sync"
)

// MaxKeyLen bounds the bytes of a key a sketch keeps: longer keys are
// counted by their first MaxKeyLen bytes (and marked truncated), so one
// producer of megabyte keys cannot make the sketch hold megabytes.
const MaxKeyLen = 128

// Count is one monitored key's estimate. The true count of Key lies in
// [Count-Err, Count]: Space-Saving overestimates a key by at most the count
// of the counter it took over.
type Count struct {
	Key       string `json:"key"`
	Truncated bool   `json:"truncated,omitempty"`
	Count     uint64 `json:"count"`
	Err       uint64 `json:"err"`
}

// Sketch is a Space-Saving summary of a stream of keys. It is safe for
// concurrent use.
type Sketch struct {
	mu       sync.Mutex
	k        int
	counters []Count
	index    map[string]int // key -> position in counters
	total    uint64
	nullKeys uint64
}

// NewSketch returns a sketch of k counters (k >= 1).
func NewSketch(k int) *Sketch {
	if k < 1 {
		k = 1
	}
	return &Sketch{k: k, counters: make([]Count, 0, k), index: make(map[string]int, k)}
}

// Add counts n occurrences of key; a nil key (a record without one, which
// the default partitioner spreads evenly) is counted apart, as it cannot
// make one partition hot.
func (s *Sketch) Add(key []byte, n uint64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.add(key, n)
}

// add is Add with s.mu held.
func (s *Sketch) add(key []byte, n uint64) {
	s.total += n
	if key == nil {
		s.nullKeys += n
		return
	}
	truncated := len(key) > MaxKeyLen
	if truncated {
		key = key[:MaxKeyLen]
	}
	// The map lookup with string(key) does not allocate.
	if i, ok := s.index[string(key)]; ok {
		s.counters[i].Count += n
		return
	}
	if len(s.counters) < s.k {
		k := string(key)
		s.index[k] = len(s.counters)
		s.counters = append(s.counters, Count{Key: k, Truncated: truncated, Count: n})
		return
	}
	// Replace the smallest counter: the newcomer inherits its count as
	// the bound on its own overestimate. A linear scan over k (tens of)
	// counters costs less than keeping a heap ordered on every increment.
	m := 0
	for i := 1; i < len(s.counters); i++ {
		if s.counters[i].Count < s.counters[m].Count {
			m = i
		}
	}
	old := s.counters[m]
	delete(s.index, old.Key)
	k := string(key)
	s.index[k] = m
	s.counters[m] = Count{Key: k, Truncated: truncated, Count: old.Count + n, Err: old.Count}
}

// Top returns up to n monitored keys, the largest estimates first (ties by
// key, so the order is stable).
func (s *Sketch) Top(n int) []Count {
	s.mu.Lock()
	out := append([]Count(nil), s.counters...)
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// Total is the number of keys counted, null keys included; NullKeys is how
// many of them were null.
func (s *Sketch) Total() (total, nullKeys uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.nullKeys
}
