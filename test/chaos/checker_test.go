package chaos

import (
	"slices"
	"testing"
)

// clean is a history with nothing wrong: partition 0 holds a, b, c at
// offsets 0-2 (a and b acknowledged, c attempted and written anyway),
// partition 1 holds d at 0; x was attempted and never written; two
// consumers read part of it.
func clean() History {
	return History{
		Acked:   []Ack{{0, "a", 0}, {0, "b", 1}, {1, "d", 0}},
		Unacked: []Attempt{{0, "c"}, {1, "x"}},
		Reads: []Read{
			{1, 0, 0, "a"}, {1, 0, 1, "b"}, {1, 1, 0, "d"}, {1, 0, 2, "c"},
			{2, 0, 1, "b"}, {2, 0, 2, "c"},
		},
		Final: map[int32][]Record{
			0: {{0, "a"}, {1, "b"}, {2, "c"}},
			1: {{0, "d"}},
		},
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		plant func(h *History)
		want  []Anomaly
	}{
		{"clean", func(*History) {}, nil},
		{"an acknowledged record missing", func(h *History) {
			h.Final[0] = []Record{{0, "a"}, {2, "c"}}
			h.Reads = nil
		}, []Anomaly{{Kind: Lost, Partition: 0, Offset: 1, Value: "b"}}},
		{"an acknowledged record only in another partition", func(h *History) {
			h.Final[0] = []Record{{0, "a"}, {2, "c"}}
			h.Final[1] = append(h.Final[1], Record{1, "b"})
			h.Reads = nil
		}, []Anomaly{{Kind: Lost, Partition: 0, Offset: 1, Value: "b"}}},
		{"an empty final read", func(h *History) {
			h.Final = nil
			h.Reads = nil
		}, []Anomaly{
			{Kind: Lost, Partition: 0, Offset: 0, Value: "a"},
			{Kind: Lost, Partition: 0, Offset: 1, Value: "b"},
			{Kind: Lost, Partition: 1, Offset: 0, Value: "d"},
		}},
		{"a value twice in one partition", func(h *History) {
			h.Final[0] = append(h.Final[0], Record{3, "b"})
		}, []Anomaly{{Kind: Duplicate, Partition: 0, Offset: 3, Value: "b"}}},
		{"a value in two partitions", func(h *History) {
			h.Final[1] = append(h.Final[1], Record{1, "c"})
		}, []Anomaly{{Kind: Duplicate, Partition: 1, Offset: 1, Value: "c"}}},
		{"an acknowledged offset that moved", func(h *History) {
			h.Final[0] = []Record{{0, "c"}, {1, "a"}, {2, "b"}}
			h.Reads = nil
		}, []Anomaly{
			{Kind: WrongOffset, Partition: 0, Offset: 0, Value: "a"},
			{Kind: WrongOffset, Partition: 0, Offset: 1, Value: "b"},
		}},
		{"a read of a value later replaced", func(h *History) {
			h.Final[0] = []Record{{0, "a"}, {1, "b"}, {2, "x"}}
			h.Unacked = append(h.Unacked, Attempt{0, "x"})
		}, []Anomaly{
			{Kind: DivergentRead, Partition: 0, Offset: 2, Value: "c"},
			{Kind: DivergentRead, Partition: 0, Offset: 2, Value: "c"},
		}},
		{"a read past the final end", func(h *History) {
			h.Reads = append(h.Reads, Read{2, 1, 1, "x"})
		}, []Anomaly{{Kind: TruncatedRead, Partition: 1, Offset: 1, Value: "x"}}},
		{"a read of an offset the final read skips", func(h *History) {
			h.Final[1] = []Record{{0, "d"}, {2, "x"}}
			h.Reads = append(h.Reads, Read{2, 1, 1, "y"})
			h.Unacked = append(h.Unacked, Attempt{1, "y"})
		}, []Anomaly{{Kind: TruncatedRead, Partition: 1, Offset: 1, Value: "y"}}},
		{"a consumer going back", func(h *History) {
			h.Reads = append(h.Reads, Read{1, 0, 1, "b"})
		}, []Anomaly{{Kind: NonMonotonic, Partition: 0, Offset: 1, Value: "b"}}},
		{"a consumer reading one offset twice", func(h *History) {
			h.Reads = append(h.Reads, Read{2, 0, 2, "c"})
		}, []Anomaly{{Kind: NonMonotonic, Partition: 0, Offset: 2, Value: "c"}}},
		{"a final read out of order", func(h *History) {
			h.Final[0] = []Record{{0, "a"}, {2, "c"}, {1, "b"}}
		}, []Anomaly{{Kind: NonMonotonic, Partition: 0, Offset: 1, Value: "b"}}},
		{"a value nobody produced", func(h *History) {
			h.Final[1] = append(h.Final[1], Record{1, "zzz"})
		}, []Anomaly{{Kind: Phantom, Partition: 1, Offset: 1, Value: "zzz"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := clean()
			tc.plant(&h)
			r := Check(h)
			var got []Anomaly
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

func TestCheckSummary(t *testing.T) {
	t.Parallel()
	h := clean()
	h.Final[0] = []Record{{0, "a"}, {2, "c"}}
	h.Reads = append(h.Reads[:0], Read{1, 0, 1, "b"})
	got := Check(h).Summary(1)
	want := `records acknowledged 3, attempted but not acknowledged 2, read during the run 1, in the final read 3
anomalies: 2, LOST 1, TRUNCATED_READ 1
  LOST partition 0 offset 1 value "b": acknowledged at offset 1, not in the final read
  ... and 1 more
`
	if got != want {
		t.Fatalf("summary:\n%s\nwant:\n%s", got, want)
	}
}
