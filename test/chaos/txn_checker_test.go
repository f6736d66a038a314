package chaos

import (
	"slices"
	"testing"
)

var (
	d0   = TP{"d", 0}
	d1   = TP{"d", 1}
	out0 = TP{"out", 0}
)

// cleanTxns is a transactional history with nothing wrong. Topic d:
// transaction a.1 committed (a1-0 in partition 0, a1-1 in 1), a.2 aborted
// on purpose, b.1 of unknown outcome and committed, b.2 of unknown outcome
// and aborted, c.1 committed. Each transaction's marker takes the offset
// after its record. An ETL member copied input records x0 and x1 (input
// topic "in", partition 0) to out in e.1, committed; copied x1 again in
// e.2, aborted; copied x2 in e.3, unknown and aborted; the group's
// committed offset is 2. Three read_committed consumers read part of it.
func cleanTxns() TxnHistory {
	h := TxnHistory{
		Txns: []Txn{
			{ID: "a.1", Outcome: Committed, Writes: []TxnWrite{{TP: d0, Value: "a1-0"}, {TP: d1, Value: "a1-1"}}},
			{ID: "a.2", Outcome: Aborted, Writes: []TxnWrite{{TP: d0, Value: "a2-0"}, {TP: d1, Value: "a2-1"}}},
			{ID: "b.1", Outcome: Unknown, Writes: []TxnWrite{{TP: d0, Value: "b1-0"}, {TP: d1, Value: "b1-1"}}},
			{ID: "b.2", Outcome: Unknown, Writes: []TxnWrite{{TP: d0, Value: "b2-0"}}},
			{ID: "c.1", Outcome: Committed, Writes: []TxnWrite{{TP: d0, Value: "c1-0"}}},
			{ID: "e.1", Outcome: Committed, Writes: []TxnWrite{
				{TP: out0, Value: "e1-0", Input: &Input{0, 0, "x0"}},
				{TP: out0, Value: "e1-1", Input: &Input{0, 1, "x1"}},
			}},
			{ID: "e.2", Outcome: Aborted, Writes: []TxnWrite{{TP: out0, Value: "e2-0", Input: &Input{0, 1, "x1"}}}},
			{ID: "e.3", Outcome: Unknown, Writes: []TxnWrite{{TP: out0, Value: "e3-0", Input: &Input{0, 2, "x2"}}}},
		},
		Reads: []TxnRead{
			{1, d0, 0, "a1-0"}, {1, d0, 4, "b1-0"}, {1, d1, 0, "a1-1"},
			{2, d1, 4, "b1-1"},
			{3, d0, 4, "b1-0"}, {3, d0, 8, "c1-0"},
		},
		Committed: map[TP][]Record{
			d0:   {{0, "a1-0"}, {4, "b1-0"}, {8, "c1-0"}},
			d1:   {{0, "a1-1"}, {4, "b1-1"}},
			out0: {{0, "e1-0"}, {1, "e1-1"}},
		},
		Uncommitted: map[TP][]Record{
			d0:   {{0, "a1-0"}, {2, "a2-0"}, {4, "b1-0"}, {6, "b2-0"}, {8, "c1-0"}},
			d1:   {{0, "a1-1"}, {2, "a2-1"}, {4, "b1-1"}},
			out0: {{0, "e1-0"}, {1, "e1-1"}, {3, "e2-0"}, {5, "e3-0"}},
		},
		StableEnd: map[TP]int64{d0: 10, d1: 6, out0: 7},
		End:       map[TP]int64{d0: 10, d1: 6, out0: 7},
		ETL: &ETLHistory{
			Input: "in", Output: "out",
			InputFinal:       map[int32][]Record{0: {{0, "x0"}, {1, "x1"}, {2, "x2"}}},
			CommittedOffsets: map[int32]int64{0: 2},
		},
	}
	// Every produce was acknowledged.
	for _, t := range h.Txns {
		for i := range t.Writes {
			t.Writes[i].Acked = true
		}
	}
	return h
}

// txn finds a transaction of h by id.
func txn(h *TxnHistory, id string) *Txn {
	for i := range h.Txns {
		if h.Txns[i].ID == id {
			return &h.Txns[i]
		}
	}
	panic("no transaction " + id)
}

func TestCheckTxns(t *testing.T) {
	t.Parallel()
	in0 := TP{"in", 0}
	for _, tc := range []struct {
		name  string
		plant func(h *TxnHistory)
		want  []TxnAnomaly
	}{
		{"clean", func(*TxnHistory) {}, nil},
		{"a committed transaction missing a record", func(h *TxnHistory) {
			h.Committed[d1] = h.Committed[d1][1:]
			h.Reads = nil
		}, []TxnAnomaly{{Kind: TxnLost, TP: d1, Offset: -1, Value: "a1-1", Txn: "a.1"}}},
		{"an acknowledged record of an aborted transaction gone", func(h *TxnHistory) {
			h.Uncommitted[d0] = slices.Delete(h.Uncommitted[d0], 1, 2)
		}, []TxnAnomaly{{Kind: Lost, TP: d0, Offset: -1, Value: "a2-0", Txn: "a.2"}}},
		{"an aborted transaction visible", func(h *TxnHistory) {
			h.Committed[d0] = []Record{{0, "a1-0"}, {2, "a2-0"}, {4, "b1-0"}, {8, "c1-0"}}
			h.Reads = nil
		}, []TxnAnomaly{{Kind: AbortedRead, TP: d0, Offset: 2, Value: "a2-0", Txn: "a.2"}}},
		{"an aborted record read during the run", func(h *TxnHistory) {
			h.Reads = append(h.Reads, TxnRead{2, d0, 2, "a2-0"})
		}, []TxnAnomaly{
			{Kind: AbortedRead, TP: d0, Offset: 2, Value: "a2-0", Txn: "a.2"},
			{Kind: TruncatedRead, TP: d0, Offset: 2, Value: "a2-0", Txn: "a.2"},
		}},
		{"a transaction of unknown outcome half visible", func(h *TxnHistory) {
			h.Committed[d1] = h.Committed[d1][:1]
			h.Reads = h.Reads[:3]
		}, []TxnAnomaly{{Kind: TxnPartial, TP: d1, Offset: -1, Value: "b1-1", Txn: "b.1"}}},
		{"a record twice", func(h *TxnHistory) {
			h.Committed[d0] = append(h.Committed[d0], Record{10, "a1-0"})
			h.Uncommitted[d0] = append(h.Uncommitted[d0], Record{10, "a1-0"})
		}, []TxnAnomaly{
			{Kind: Duplicate, TP: d0, Offset: 10, Value: "a1-0", Txn: "a.1"},
			{Kind: Duplicate, TP: d0, Offset: 10, Value: "a1-0", Txn: "a.1"},
		}},
		{"a record nobody wrote", func(h *TxnHistory) {
			h.Committed[d1] = append(h.Committed[d1], Record{6, "zzz"})
			h.Uncommitted[d1] = append(h.Uncommitted[d1], Record{6, "zzz"})
		}, []TxnAnomaly{
			{Kind: Phantom, TP: d1, Offset: 6, Value: "zzz"},
			{Kind: Phantom, TP: d1, Offset: 6, Value: "zzz"},
		}},
		{"a record in another partition than written", func(h *TxnHistory) {
			h.Committed[d0] = h.Committed[d0][:2]
			h.Uncommitted[d0] = h.Uncommitted[d0][:4]
			h.Committed[d1] = append(h.Committed[d1], Record{8, "c1-0"})
			h.Uncommitted[d1] = append(h.Uncommitted[d1], Record{8, "c1-0"})
			h.Reads = h.Reads[:5]
		}, []TxnAnomaly{
			{Kind: TxnLost, TP: d0, Offset: -1, Value: "c1-0", Txn: "c.1"},
			{Kind: Lost, TP: d0, Offset: -1, Value: "c1-0", Txn: "c.1"},
			{Kind: Phantom, TP: d1, Offset: 8, Value: "c1-0", Txn: "c.1"},
			{Kind: Phantom, TP: d1, Offset: 8, Value: "c1-0", Txn: "c.1"},
		}},
		{"read_committed holds what read_uncommitted lacks", func(h *TxnHistory) {
			h.Uncommitted[d0] = slices.Delete(h.Uncommitted[d0], 2, 3)
		}, []TxnAnomaly{
			{Kind: Lost, TP: d0, Offset: -1, Value: "b1-0", Txn: "b.1"},
			{Kind: IsolationMismatch, TP: d0, Offset: 4, Value: "b1-0", Txn: "b.1"},
		}},
		{"a last stable offset below the end", func(h *TxnHistory) {
			h.StableEnd[d0] = 6
		}, []TxnAnomaly{{Kind: LSOStuck, TP: d0, Offset: 6}}},
		{"a read of a value the final read does not have there", func(h *TxnHistory) {
			h.Reads[1].Value = "b2-0"
		}, []TxnAnomaly{{Kind: DivergentRead, TP: d0, Offset: 4, Value: "b2-0", Txn: "b.2"}}},
		{"a read past the final end", func(h *TxnHistory) {
			h.Reads = append(h.Reads, TxnRead{2, d1, 9, "x"})
		}, []TxnAnomaly{{Kind: TruncatedRead, TP: d1, Offset: 9, Value: "x"}}},
		{"a consumer skipping a committed record", func(h *TxnHistory) {
			h.Reads = append(h.Reads[:4], TxnRead{3, d0, 0, "a1-0"}, TxnRead{3, d0, 8, "c1-0"})
		}, []TxnAnomaly{{Kind: SkippedRead, TP: d0, Offset: 4, Value: "b1-0", Txn: "b.1"}}},
		{"a consumer going back", func(h *TxnHistory) {
			h.Reads = append(h.Reads, TxnRead{1, d0, 0, "a1-0"})
		}, []TxnAnomaly{{Kind: NonMonotonic, TP: d0, Offset: 0, Value: "a1-0", Txn: "a.1"}}},
		{"a final read out of order", func(h *TxnHistory) {
			h.Committed[d1] = []Record{{4, "b1-1"}, {0, "a1-1"}}
		}, []TxnAnomaly{{Kind: NonMonotonic, TP: d1, Offset: 0, Value: "a1-1", Txn: "a.1"}}},
		{"an input record below the committed offset not copied", func(h *TxnHistory) {
			h.ETL.CommittedOffsets[0] = 3
		}, []TxnAnomaly{{Kind: ETLLost, TP: in0, Offset: 2, Value: "x2"}}},
		{"an input record copied twice", func(h *TxnHistory) {
			txn(h, "e.2").Outcome = Committed
			h.Committed[out0] = append(h.Committed[out0], Record{3, "e2-0"})
		}, []TxnAnomaly{{Kind: ETLDuplicate, TP: in0, Offset: 1, Value: "x1"}}},
		{"an input record copied without its offset committed", func(h *TxnHistory) {
			h.ETL.CommittedOffsets[0] = 1
		}, []TxnAnomaly{{Kind: ETLAhead, TP: in0, Offset: 1, Value: "x1"}}},
		{"an offset committed past the input's end", func(h *TxnHistory) {
			txn(h, "e.3").Outcome = Committed
			h.Committed[out0] = append(h.Committed[out0], Record{5, "e3-0"})
			h.ETL.CommittedOffsets[0] = 4
		}, []TxnAnomaly{{Kind: ETLAhead, TP: in0, Offset: 4}}},
		{"an ETL member read another value than the input holds", func(h *TxnHistory) {
			txn(h, "e.1").Writes[0].Input.Value = "x9"
		}, []TxnAnomaly{{Kind: DivergentRead, TP: in0, Offset: 0, Value: "x9", Txn: "e.1"}}},
		{"an output copying an input record that does not exist", func(h *TxnHistory) {
			txn(h, "e.1").Writes[0].Input.Offset = 7
		}, []TxnAnomaly{
			{Kind: Phantom, TP: out0, Offset: 0, Value: "e1-0", Txn: "e.1"},
			{Kind: ETLLost, TP: in0, Offset: 0, Value: "x0"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := cleanTxns()
			tc.plant(&h)
			r := CheckTxns(h)
			var got []TxnAnomaly
			for _, a := range r.Anomalies {
				a.Detail = "" // checked by the summary test
				got = append(got, a)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("anomalies:\n%v\nwant:\n%v\n%s", got, tc.want, r.Summary(20))
			}
		})
	}
}

func TestCheckTxnsSummary(t *testing.T) {
	t.Parallel()
	h := cleanTxns()
	h.Committed[d1] = h.Committed[d1][1:]
	h.Reads = nil
	h.StableEnd[d1] = 4
	got := CheckTxns(h).Summary(1)
	want := `transactions committed 3, aborted 2, unknown outcome 3; records written 12, read during the run 0, in the read_committed final read 6
ETL input records 3, below the committed offsets 2
anomalies: 2, TXN_LOST 1, LSO_STUCK 1
  TXN_LOST d[1] offset -1 value "a1-1" txn a.1: committed (1 of 2 records visible), not in the read_committed final read
  ... and 1 more
`
	if got != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", got, want)
	}
}
