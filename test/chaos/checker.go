package chaos

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The history checker. A run records what producers were told and what
// consumers saw; Check compares it with one final read of every partition
// from the start, taken after the cluster healed and producers stopped.
// Every value is produced once, to one partition, so a value names a
// record.

// Ack is a record a producer got an acks=all acknowledgement for, at
// Offset.
type Ack struct {
	Partition int32
	Value     string
	Offset    int64
}

// Attempt is a record produced but never acknowledged (it failed, or was
// still in flight when the producer closed): it may or may not be in the
// log, and either is correct.
type Attempt struct {
	Partition int32
	Value     string
}

// Read is one record a consumer read during the run. Consumer names one
// consumer session (one client from one start offset); its reads of a
// partition are in the order it received them.
type Read struct {
	Consumer  int
	Partition int32
	Offset    int64
	Value     string
}

// Record is one record of the final read.
type Record struct {
	Offset int64
	Value  string
}

// History is everything a run recorded.
type History struct {
	Acked   []Ack
	Unacked []Attempt
	Reads   []Read
	// Final is the final read of each partition from its start to its
	// end, in the order read.
	Final map[int32][]Record
}

// Kind is a kind of anomaly.
type Kind string

const (
	// Lost: an acknowledged record is missing from the final read.
	Lost Kind = "LOST"
	// Duplicate: a value is in the final read more than once (idempotent
	// producers must not duplicate), or in two partitions.
	Duplicate Kind = "DUPLICATE"
	// WrongOffset: an acknowledged record is in the final read at another
	// offset than the producer was told.
	WrongOffset Kind = "WRONG_OFFSET"
	// DivergentRead: a consumer read a value at an offset where the final
	// read has another value.
	DivergentRead Kind = "DIVERGENT_READ"
	// TruncatedRead: a consumer read an offset the final read does not
	// have (a gap in it, or past its end): it saw data that was later
	// truncated, i.e. uncommitted data.
	TruncatedRead Kind = "TRUNCATED_READ"
	// NonMonotonic: a consumer's offsets of a partition, or the final
	// read's, did not strictly increase.
	NonMonotonic Kind = "NON_MONOTONIC"
	// Phantom: the final read holds a value no producer ever sent.
	Phantom Kind = "PHANTOM"
)

// Kinds lists every kind, in report order.
var Kinds = []Kind{Lost, Duplicate, WrongOffset, DivergentRead, TruncatedRead, NonMonotonic, Phantom}

// Anomaly is one violation found in a history.
type Anomaly struct {
	Kind      Kind
	Partition int32
	Offset    int64
	Value     string
	Detail    string
}

func (a Anomaly) String() string {
	s := fmt.Sprintf("%s partition %d offset %d value %q", a.Kind, a.Partition, a.Offset, a.Value)
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

// Report is the checker's verdict.
type Report struct {
	Acked, Unacked, Reads, Final int
	Anomalies                    []Anomaly
}

// Count is the number of anomalies of kind k.
func (r Report) Count(k Kind) int {
	n := 0
	for _, a := range r.Anomalies {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// Summary lists the counts and at most limit anomalies.
func (r Report) Summary(limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "records acknowledged %d, attempted but not acknowledged %d, read during the run %d, in the final read %d\n",
		r.Acked, r.Unacked, r.Reads, r.Final)
	fmt.Fprintf(&b, "anomalies: %d", len(r.Anomalies))
	for _, k := range Kinds {
		if n := r.Count(k); n > 0 {
			fmt.Fprintf(&b, ", %s %d", k, n)
		}
	}
	b.WriteString("\n")
	for i, a := range r.Anomalies {
		if i == limit {
			fmt.Fprintf(&b, "  ... and %d more\n", len(r.Anomalies)-limit)
			break
		}
		fmt.Fprintf(&b, "  %s\n", a)
	}
	return b.String()
}

// Check finds every anomaly in h. Anomalies come sorted by kind, partition
// and offset, so a report is deterministic.
func Check(h History) Report {
	r := Report{Acked: len(h.Acked), Unacked: len(h.Unacked), Reads: len(h.Reads)}
	add := func(k Kind, p int32, off int64, v, format string, args ...any) {
		r.Anomalies = append(r.Anomalies, Anomaly{Kind: k, Partition: p, Offset: off, Value: v, Detail: fmt.Sprintf(format, args...)})
	}

	// The final read: offset -> value per partition, and where each value
	// is.
	type place struct {
		partition int32
		offset    int64
	}
	final := map[int32]map[int64]string{}
	end := map[int32]int64{} // one past the last offset read
	where := map[string]place{}
	sent := map[string]bool{}
	for _, a := range h.Acked {
		sent[a.Value] = true
	}
	for _, a := range h.Unacked {
		sent[a.Value] = true
	}
	for _, p := range slices.Sorted(maps.Keys(h.Final)) {
		recs := h.Final[p]
		r.Final += len(recs)
		byOff := map[int64]string{}
		final[p] = byOff
		last := int64(-1)
		for _, rec := range recs {
			if rec.Offset <= last {
				add(NonMonotonic, p, rec.Offset, rec.Value, "final read: offset %d after %d", rec.Offset, last)
			}
			last = max(last, rec.Offset)
			if _, dup := byOff[rec.Offset]; !dup {
				byOff[rec.Offset] = rec.Value
			}
			if prev, dup := where[rec.Value]; dup {
				add(Duplicate, p, rec.Offset, rec.Value, "also at partition %d offset %d", prev.partition, prev.offset)
			} else {
				where[rec.Value] = place{p, rec.Offset}
			}
			if !sent[rec.Value] {
				add(Phantom, p, rec.Offset, rec.Value, "never produced")
			}
		}
		end[p] = last + 1
	}

	for _, a := range h.Acked {
		at, ok := where[a.Value]
		switch {
		case !ok || at.partition != a.Partition:
			add(Lost, a.Partition, a.Offset, a.Value, "acknowledged at offset %d, not in the final read", a.Offset)
		case at.offset != a.Offset:
			add(WrongOffset, a.Partition, a.Offset, a.Value, "acknowledged at offset %d, final read has it at %d", a.Offset, at.offset)
		}
	}

	type session struct {
		consumer  int
		partition int32
	}
	lastRead := map[session]int64{}
	for _, rd := range h.Reads {
		s := session{rd.Consumer, rd.Partition}
		if prev, ok := lastRead[s]; ok && rd.Offset <= prev {
			add(NonMonotonic, rd.Partition, rd.Offset, rd.Value, "consumer %d read offset %d after %d", rd.Consumer, rd.Offset, prev)
		}
		lastRead[s] = rd.Offset
		v, ok := final[rd.Partition][rd.Offset]
		switch {
		case !ok && rd.Offset >= end[rd.Partition]:
			add(TruncatedRead, rd.Partition, rd.Offset, rd.Value, "consumer %d read it; the final read ends at %d", rd.Consumer, end[rd.Partition])
		case !ok:
			add(TruncatedRead, rd.Partition, rd.Offset, rd.Value, "consumer %d read it; the final read has no offset %d", rd.Consumer, rd.Offset)
		case v != rd.Value:
			add(DivergentRead, rd.Partition, rd.Offset, rd.Value, "consumer %d read it; the final read has %q there", rd.Consumer, v)
		}
	}

	slices.SortStableFunc(r.Anomalies, func(a, b Anomaly) int {
		if c := slices.Index(Kinds, a.Kind) - slices.Index(Kinds, b.Kind); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	return r
}
