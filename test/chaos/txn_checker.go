package chaos

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// The transaction checker. Transactional producers record every
// transaction they began (the records they produced in it, and what they
// were told about its end); read_committed consumers record what they read
// during the run; ETL members (consume-transform-produce) record which
// input record each output record copies. After the cluster healed and
// every transaction ended, every partition is read from the start at both
// isolation levels, and CheckTxns compares the history with those reads.
// Every value is produced once, to one partition, in one transaction, so a
// value names a write.

// TP names a partition of a topic.
type TP struct {
	Topic     string
	Partition int32
}

func (tp TP) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

// Outcome is what a transactional client learnt about the end of one of
// its transactions.
type Outcome int

const (
	// Committed: EndTxn with commit was acknowledged.
	Committed Outcome = iota
	// Aborted: the transaction cannot have committed. The client never
	// asked to commit it (it aborted on purpose, aborted after a failed
	// produce, or crashed before ending it), or the commit was refused
	// before it was attempted (kgo's OPERATION_NOT_ATTEMPTED), or the
	// client was told it aborted.
	Aborted
	// Unknown: a commit was asked and its answer never came (a transport
	// error, a timeout, a crash while EndTxn was in flight): it committed
	// or aborted, wholly.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Committed:
		return "committed"
	case Aborted:
		return "aborted"
	case Unknown:
		return "unknown"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Input names the input record an ETL output record copies: where the
// member read it and the value it read there.
type Input struct {
	Partition int32
	Offset    int64
	Value     string
}

// TxnWrite is one record produced in a transaction (its Produce was
// called; it may have failed).
type TxnWrite struct {
	TP
	Value string
	// Input is the input record an ETL member copied; nil for the
	// records of producer-only transactions.
	Input *Input
	// Acked: the produce was acknowledged (acks=all). An acknowledged
	// record stays in the log whatever becomes of its transaction.
	Acked bool
}

// Txn is one transaction a client began and produced in.
type Txn struct {
	ID      string // unique in a history: the producer and its count
	Outcome Outcome
	Writes  []TxnWrite
}

// TxnRead is one record a read_committed consumer read during the run.
// Consumer names one consumer session; its reads of a partition are in the
// order it received them.
type TxnRead struct {
	Consumer int
	TP
	Offset int64
	Value  string
}

// ETLHistory is the consume-transform-produce part of a history: members
// of one group copy every record of the input topic to the output topic
// in transactions that also commit the group's offsets.
type ETLHistory struct {
	Input, Output string
	// InputFinal is the final read of every input partition.
	InputFinal map[int32][]Record
	// CommittedOffsets are the group's committed offsets of the input
	// partitions once every transaction ended (absent: none committed).
	CommittedOffsets map[int32]int64
}

// TxnHistory is everything a transactional run recorded.
type TxnHistory struct {
	Txns  []Txn
	Reads []TxnRead
	// Committed is the final read_committed read of every partition the
	// transactions wrote, from the start to the end, in the order read;
	// Uncommitted the same at read_uncommitted (nil: not taken).
	Committed, Uncommitted map[TP][]Record
	// StableEnd and End are each partition's ListOffsets latest answer
	// at read_committed (the last stable offset) and read_uncommitted
	// (the high watermark), taken once no transaction could be open.
	StableEnd, End map[TP]int64
	ETL            *ETLHistory
}

// The anomalies of transactional histories (with Duplicate, Phantom,
// NonMonotonic, DivergentRead and TruncatedRead of checker.go, and Lost:
// an acknowledged record of any transaction is not in the
// read_uncommitted final read).
const (
	// TxnLost: a record of a transaction whose commit was acknowledged
	// is not in the read_committed final read.
	TxnLost Kind = "TXN_LOST"
	// AbortedRead: a record of a transaction that did not commit is in
	// the read_committed final read, or a read_committed consumer read
	// it during the run.
	AbortedRead Kind = "ABORTED_READ"
	// TxnPartial: some records of a transaction of unknown outcome are in
	// the read_committed final read and others are not.
	TxnPartial Kind = "TXN_PARTIAL"
	// SkippedRead: a read_committed consumer read two records of a
	// partition in a row and the final read has a record between them.
	SkippedRead Kind = "SKIPPED_READ"
	// IsolationMismatch: a record of the read_committed final read is not
	// at the same offset in the read_uncommitted final read.
	IsolationMismatch Kind = "ISOLATION_MISMATCH"
	// LSOStuck: once no transaction could be open, a partition's last
	// stable offset is below its high watermark.
	LSOStuck Kind = "LSO_STUCK"
	// ETLLost: an input record below the group's committed offset has no
	// copy in the committed output.
	ETLLost Kind = "ETL_LOST"
	// ETLDuplicate: an input record has more than one copy in the
	// committed output.
	ETLDuplicate Kind = "ETL_DUPLICATE"
	// ETLAhead: an input record at or above the group's committed offset
	// has a copy in the committed output (the output and the offsets did
	// not commit together), or the committed offset is past the input's
	// end.
	ETLAhead Kind = "ETL_AHEAD"
)

// TxnKinds lists every kind a transactional check reports, in report
// order.
var TxnKinds = []Kind{TxnLost, Lost, AbortedRead, TxnPartial, Duplicate, Phantom, ETLLost, ETLDuplicate, ETLAhead,
	IsolationMismatch, LSOStuck, DivergentRead, TruncatedRead, SkippedRead, NonMonotonic}

// TxnAnomaly is one violation found in a transactional history. Offset is
// -1 for a record that is missing from a read.
type TxnAnomaly struct {
	Kind Kind
	TP
	Offset int64
	Value  string
	Txn    string // the transaction that wrote Value, if any
	Detail string
}

func (a TxnAnomaly) String() string {
	s := fmt.Sprintf("%s %s offset %d value %q", a.Kind, a.TP, a.Offset, a.Value)
	if a.Txn != "" {
		s += " txn " + a.Txn
	}
	if a.Detail != "" {
		s += ": " + a.Detail
	}
	return s
}

// TxnReport is the transaction checker's verdict.
type TxnReport struct {
	Txns      map[Outcome]int // transactions by outcome
	Writes    int             // records produced in transactions
	Reads     int
	Committed int // records in the read_committed final read
	// ETLInput is the input records of the ETL, ETLCommitted those below
	// the group's committed offsets.
	ETLInput, ETLCommitted int
	Anomalies              []TxnAnomaly
}

// Count is the number of anomalies of kind k.
func (r TxnReport) Count(k Kind) int {
	n := 0
	for _, a := range r.Anomalies {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// Summary lists the counts and at most limit anomalies.
func (r TxnReport) Summary(limit int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "transactions committed %d, aborted %d, unknown outcome %d; records written %d, read during the run %d, in the read_committed final read %d\n",
		r.Txns[Committed], r.Txns[Aborted], r.Txns[Unknown], r.Writes, r.Reads, r.Committed)
	if r.ETLInput > 0 {
		fmt.Fprintf(&b, "ETL input records %d, below the committed offsets %d\n", r.ETLInput, r.ETLCommitted)
	}
	fmt.Fprintf(&b, "anomalies: %d", len(r.Anomalies))
	for _, k := range TxnKinds {
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

// finalIndex is one final read indexed: offset -> value per partition,
// the sorted offsets per partition, and where each value is.
type finalIndex struct {
	byOffset map[TP]map[int64]string
	offsets  map[TP][]int64 // sorted
	end      map[TP]int64   // one past the last offset read
	where    map[string]place
}

type place struct {
	tp     TP
	offset int64
}

// CheckTxns finds every anomaly in h. Anomalies come sorted by kind,
// topic, partition, offset and value, so a report is deterministic.
func CheckTxns(h TxnHistory) TxnReport {
	r := TxnReport{Txns: map[Outcome]int{}, Reads: len(h.Reads)}
	add := func(k Kind, tp TP, off int64, v, txn, format string, args ...any) {
		r.Anomalies = append(r.Anomalies, TxnAnomaly{Kind: k, TP: tp, Offset: off, Value: v, Txn: txn, Detail: fmt.Sprintf(format, args...)})
	}

	// Every write, by value.
	writes := map[string]txnWrite{}
	for i := range h.Txns {
		t := &h.Txns[i]
		r.Txns[t.Outcome]++
		r.Writes += len(t.Writes)
		for _, w := range t.Writes {
			writes[w.Value] = txnWrite{t, w}
		}
	}

	// index checks one final read on its own (order, duplicates, values
	// nobody wrote) and indexes it.
	index := func(final map[TP][]Record, isolation string) finalIndex {
		fi := finalIndex{byOffset: map[TP]map[int64]string{}, offsets: map[TP][]int64{}, end: map[TP]int64{}, where: map[string]place{}}
		for _, tp := range slices.SortedFunc(maps.Keys(final), compareTP) {
			byOff := map[int64]string{}
			fi.byOffset[tp] = byOff
			last := int64(-1)
			for _, rec := range final[tp] {
				if rec.Offset <= last {
					add(NonMonotonic, tp, rec.Offset, rec.Value, writes[rec.Value].id(), "%s final read: offset %d after %d", isolation, rec.Offset, last)
				} else {
					fi.offsets[tp] = append(fi.offsets[tp], rec.Offset)
				}
				last = max(last, rec.Offset)
				if _, dup := byOff[rec.Offset]; !dup {
					byOff[rec.Offset] = rec.Value
				}
				w, ok := writes[rec.Value]
				switch {
				case !ok:
					add(Phantom, tp, rec.Offset, rec.Value, "", "%s final read: never produced", isolation)
				case w.write.TP != tp:
					add(Phantom, tp, rec.Offset, rec.Value, w.txn.ID, "%s final read: produced to %s", isolation, w.write.TP)
				}
				if prev, dup := fi.where[rec.Value]; dup {
					add(Duplicate, tp, rec.Offset, rec.Value, w.id(), "%s final read: also at %s offset %d", isolation, prev.tp, prev.offset)
				} else {
					fi.where[rec.Value] = place{tp, rec.Offset}
				}
			}
			fi.end[tp] = last + 1
		}
		return fi
	}
	committed := index(h.Committed, "read_committed")
	for _, recs := range h.Committed {
		r.Committed += len(recs)
	}
	visible := func(w TxnWrite) (int64, bool) {
		at, ok := committed.where[w.Value]
		return at.offset, ok && at.tp == w.TP
	}

	// Each transaction is whole or absent, as its outcome allows.
	for _, t := range h.Txns {
		var seen, missing []TxnWrite
		for _, w := range t.Writes {
			if _, ok := visible(w); ok {
				seen = append(seen, w)
			} else {
				missing = append(missing, w)
			}
		}
		switch t.Outcome {
		case Committed:
			for _, w := range missing {
				add(TxnLost, w.TP, -1, w.Value, t.ID, "committed (%d of %d records visible), not in the read_committed final read", len(seen), len(t.Writes))
			}
		case Aborted:
			for _, w := range seen {
				off, _ := visible(w)
				add(AbortedRead, w.TP, off, w.Value, t.ID, "the transaction did not commit; the read_committed final read has it")
			}
		case Unknown:
			if len(seen) > 0 && len(missing) > 0 {
				w := missing[0]
				add(TxnPartial, w.TP, -1, w.Value, t.ID, "outcome unknown: %d of %d records visible, this one is not", len(seen), len(t.Writes))
			}
		}
	}

	// read_committed is read_uncommitted less the records of aborted
	// transactions (and the markers, which no consumer sees).
	if h.Uncommitted != nil {
		uncommitted := index(h.Uncommitted, "read_uncommitted")
		for _, t := range h.Txns {
			for _, w := range t.Writes {
				if at, ok := uncommitted.where[w.Value]; w.Acked && (!ok || at.tp != w.TP) {
					add(Lost, w.TP, -1, w.Value, t.ID, "acknowledged (the transaction's outcome: %s), not in the read_uncommitted final read", t.Outcome)
				}
			}
		}
		for _, tp := range slices.SortedFunc(maps.Keys(h.Committed), compareTP) {
			for _, rec := range h.Committed[tp] {
				if v, ok := uncommitted.byOffset[tp][rec.Offset]; !ok || v != rec.Value {
					add(IsolationMismatch, tp, rec.Offset, rec.Value, writes[rec.Value].id(), "read_uncommitted has %q there (present: %v)", v, ok)
				}
			}
		}
	}

	for _, tp := range slices.SortedFunc(maps.Keys(h.End), compareTP) {
		if lso, ok := h.StableEnd[tp]; !ok || lso != h.End[tp] {
			add(LSOStuck, tp, lso, "", "", "last stable offset %d (known: %v), high watermark %d, with no transaction open", lso, ok, h.End[tp])
		}
	}

	// Reads during the run: only committed data, in order, none skipped.
	type session struct {
		consumer int
		tp       TP
	}
	lastRead := map[session]int64{}
	for _, rd := range h.Reads {
		w, known := writes[rd.Value]
		if known && w.txn.Outcome == Aborted {
			add(AbortedRead, rd.TP, rd.Offset, rd.Value, w.txn.ID, "consumer %d read it; the transaction did not commit", rd.Consumer)
		}
		s := session{rd.Consumer, rd.TP}
		prev, hasPrev := lastRead[s]
		if hasPrev && rd.Offset <= prev {
			add(NonMonotonic, rd.TP, rd.Offset, rd.Value, w.id(), "consumer %d read offset %d after %d", rd.Consumer, rd.Offset, prev)
		}
		lastRead[s] = rd.Offset
		if hasPrev && rd.Offset > prev+1 {
			offs := committed.offsets[rd.TP]
			for i := sort.Search(len(offs), func(i int) bool { return offs[i] > prev }); i < len(offs) && offs[i] < rd.Offset; i++ {
				v := committed.byOffset[rd.TP][offs[i]]
				add(SkippedRead, rd.TP, offs[i], v, writes[v].id(), "consumer %d read offset %d, then %d", rd.Consumer, prev, rd.Offset)
			}
		}
		v, ok := committed.byOffset[rd.TP][rd.Offset]
		switch {
		case !ok && rd.Offset >= committed.end[rd.TP]:
			add(TruncatedRead, rd.TP, rd.Offset, rd.Value, w.id(), "consumer %d read it; the read_committed final read ends at %d", rd.Consumer, committed.end[rd.TP])
		case !ok:
			add(TruncatedRead, rd.TP, rd.Offset, rd.Value, w.id(), "consumer %d read it; the read_committed final read has no offset %d", rd.Consumer, rd.Offset)
		case v != rd.Value:
			add(DivergentRead, rd.TP, rd.Offset, rd.Value, w.id(), "consumer %d read it; the read_committed final read has %q there", rd.Consumer, v)
		}
	}

	if h.ETL != nil {
		for p, recs := range h.ETL.InputFinal {
			r.ETLInput += len(recs)
			for _, rec := range recs {
				if rec.Offset < h.ETL.CommittedOffsets[p] {
					r.ETLCommitted++
				}
			}
		}
		checkETL(h, writes, visible, add)
	}

	slices.SortStableFunc(r.Anomalies, func(a, b TxnAnomaly) int {
		return cmp.Or(cmp.Compare(slices.Index(TxnKinds, a.Kind), slices.Index(TxnKinds, b.Kind)),
			compareTP(a.TP, b.TP), cmp.Compare(a.Offset, b.Offset), cmp.Compare(a.Value, b.Value))
	})
	return r
}

// txnWrite is one write and the transaction it belongs to.
type txnWrite struct {
	txn   *Txn
	write TxnWrite
}

// id is the transaction's id, "" for the zero txnWrite (a value nobody
// wrote).
func (w txnWrite) id() string {
	if w.txn == nil {
		return ""
	}
	return w.txn.ID
}

// checkETL checks the consume-transform-produce output against the input
// and the group's committed offsets: every input record below the
// committed offset of its partition has exactly one copy in the committed
// output, and none at or above it has any.
func checkETL(h TxnHistory, writes map[string]txnWrite, visible func(TxnWrite) (int64, bool),
	add func(k Kind, tp TP, off int64, v, txn, format string, args ...any)) {
	e := h.ETL
	copies := map[Input][]string{} // by the input's (partition, offset); Value left empty
	for _, v := range slices.Sorted(maps.Keys(writes)) {
		w := writes[v]
		in := w.write.Input
		if in == nil || w.write.Topic != e.Output {
			continue
		}
		off, ok := visible(w.write)
		if !ok {
			continue
		}
		key := Input{Partition: in.Partition, Offset: in.Offset}
		copies[key] = append(copies[key], w.write.Value)
		inTP := TP{e.Input, in.Partition}
		var found *Record
		for i, rec := range e.InputFinal[in.Partition] {
			if rec.Offset == in.Offset {
				found = &e.InputFinal[in.Partition][i]
				break
			}
		}
		switch {
		case found == nil:
			add(Phantom, w.write.TP, off, w.write.Value, w.txn.ID, "copies %s offset %d, which the input's final read does not hold", inTP, in.Offset)
		case found.Value != in.Value:
			add(DivergentRead, inTP, in.Offset, in.Value, w.txn.ID, "an ETL member read it; the input's final read has %q there", found.Value)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(e.InputFinal)) {
		inTP := TP{e.Input, p}
		committed := e.CommittedOffsets[p]
		end := int64(0)
		for _, rec := range e.InputFinal[p] {
			end = rec.Offset + 1
			n := copies[Input{Partition: p, Offset: rec.Offset}]
			below := rec.Offset < committed
			switch {
			case below && len(n) == 0:
				add(ETLLost, inTP, rec.Offset, rec.Value, "", "below the committed offset %d, no copy in the output", committed)
			case len(n) > 1:
				add(ETLDuplicate, inTP, rec.Offset, rec.Value, "", "%d copies in the output: %q", len(n), n)
			case !below && len(n) > 0:
				add(ETLAhead, inTP, rec.Offset, rec.Value, "", "at or above the committed offset %d, copied to the output as %q", committed, n[0])
			}
		}
		if committed > end {
			add(ETLAhead, inTP, committed, "", "", "committed offset %d past the input's end %d", committed, end)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(e.CommittedOffsets)) {
		if _, ok := e.InputFinal[p]; !ok && e.CommittedOffsets[p] > 0 {
			add(ETLAhead, TP{e.Input, p}, e.CommittedOffsets[p], "", "", "committed offset %d of a partition the input's final read does not have", e.CommittedOffsets[p])
		}
	}
}

func compareTP(a, b TP) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}
