package console

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSeriesRing(t *testing.T) {
	s := newSeries(3)
	t0 := time.Unix(100, 0)
	for i := range 5 {
		s.add(t0.Add(time.Duration(i)*time.Second), float64(i))
	}
	ts, vs := s.snapshot()
	if fmt.Sprint(vs) != "[[2] [3] [4]]" || ts[0].Unix() != 102 || ts[2].Unix() != 104 {
		t.Fatalf("snapshot %v %v, want the last three oldest first", ts, vs)
	}
	if fmt.Sprint(s.last()) != "[4]" {
		t.Fatalf("last %v", s.last())
	}
}

// TestAddTraffic: rates are each broker's counter differences over its own
// interval, summed per topic; a counter that went down (a restarted
// broker) counts from zero; a broker's first answer is only a baseline.
func TestAddTraffic(t *testing.T) {
	st := newStats(10)
	t0 := time.Unix(100, 0)
	ans := func(node int32, in, out, recs uint64) LocalTraffic {
		return LocalTraffic{Node: node, Partitions: []PartitionTraffic{
			{Topic: "a", Partition: 0, BytesIn: in, BytesOut: out, RecordsIn: recs},
			{Topic: "a", Partition: 1, BytesIn: in, BytesOut: 0, RecordsIn: 0},
		}}
	}
	st.addTraffic(t0, []LocalTraffic{ans(1, 100, 10, 1), ans(2, 1000, 0, 0)})
	if ts, _ := st.topic("a"); len(ts) != 0 {
		t.Fatalf("baseline produced %d samples", len(ts))
	}
	st.addTraffic(t0.Add(2*time.Second), []LocalTraffic{ans(1, 300, 50, 5), ans(2, 1100, 0, 0)})
	// Broker 1: in (300-100)*2/2s = 200/s, out 40/2 = 20/s, records 2/s;
	// broker 2: in (1100-1000)*2/2s = 100/s.
	if got := fmt.Sprint(st.topicRate("a")); got != "[300 20 2]" {
		t.Fatalf("rates %s, want [300 20 2]", got)
	}
	if got := fmt.Sprint(st.brokerRate(1)); got != "[200 20]" {
		t.Fatalf("broker 1 %s", got)
	}
	// Broker 2 restarted: its counters start again from 0.
	st.addTraffic(t0.Add(3*time.Second), []LocalTraffic{ans(1, 300, 50, 5), ans(2, 50, 0, 0)})
	if got := fmt.Sprint(st.topicRate("a")); got != "[100 0 0]" {
		t.Fatalf("after restart %s, want [100 0 0]", got)
	}
	st.forgetTopics(func(string) bool { return false })
	if st.topicRate("a") != nil {
		t.Fatal("deleted topic kept")
	}
}

func TestAddLagForgetsGroups(t *testing.T) {
	st := newStats(10)
	st.addLag(time.Unix(1, 0), map[string]float64{"g1": 5, "g2": 7})
	st.addLag(time.Unix(2, 0), map[string]float64{"g2": 3})
	if ts, _ := st.group("g1"); ts != nil {
		t.Fatal("g1 kept after it was no longer listed")
	}
	if _, vs := st.group("g2"); fmt.Sprint(vs) != "[[7] [3]]" {
		t.Fatalf("g2 %v", vs)
	}
}

func TestNiceCeil(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{0, 1}, {0.3, 0.5}, {1, 1}, {1.01, 2}, {3, 5}, {7, 10}, {300, 500}, {1000, 1000}, {1234, 2000},
	} {
		if got := niceCeil(c.in); got != c.want {
			t.Errorf("niceCeil(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestPlotSVG: the points are placed on the axes' scale; no samples say
// so.
func TestPlotSVG(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := plot{Title: "lag", ID: "p", Format: humanCount,
		Times: []time.Time{t0, t0.Add(10 * time.Second)},
		Lines: []line{{Name: "lag", Color: "#f00", Values: []float64{0, 50}}}}
	svg := string(p.svg())
	// x from padL to padL+innerW; y from the bottom (0) to the top (the
	// nice max, 50).
	want := fmt.Sprintf(`points="%d.0,%d.0 %d.0,%d.0"`, padL, padT+innerH, padL+innerW, padT)
	for _, w := range []string{want, `data-last="50"`, ">03:04:05<", ">03:04:15<", `id="p"`} {
		if !strings.Contains(svg, w) {
			t.Fatalf("svg lacks %s:\n%s", w, svg)
		}
	}
	empty := string(plot{Title: "x"}.svg())
	if !strings.Contains(empty, plotEmptyMessage) || strings.Contains(empty, "polyline") {
		t.Fatalf("empty plot:\n%s", empty)
	}
}

func TestRenderBytes(t *testing.T) {
	for _, c := range []struct {
		in, render, want string
	}{
		{`{"a":1}`, "json", "{\n  \"a\": 1\n}"},
		{`not json`, "json", "not json"},
		{"\xff\x00", "text", `"\xff\x00"`},
		{"hi", "hex", "6869"},
		{"hi", "base64", "aGk="},
	} {
		if got, _ := renderBytes([]byte(c.in), c.render); got != c.want {
			t.Errorf("renderBytes(%q, %s) = %q, want %q", c.in, c.render, got, c.want)
		}
	}
	long := strings.Repeat("x", maxShownBytes+1)
	if got, cut := renderBytes([]byte(long), "text"); !cut || len(got) != maxShownBytes {
		t.Errorf("long value: cut %v, %d bytes", cut, len(got))
	}
}

// FuzzFormInput: the parsers of what a browser sends (the next-page
// cursor, header and config lines, timestamps) refuse or accept any input
// without panicking, and what they accept is well formed.
func FuzzFormInput(f *testing.F) {
	f.Add("0:12,1:0")
	f.Add("a: b\nc=d\r\n\n")
	f.Add("2026-01-02 03:04:05")
	f.Add("-1:-1,:")
	f.Fuzz(func(t *testing.T, s string) {
		if cur, err := parseCursor(s); err == nil {
			for p, o := range cur {
				if p < 0 || o < 0 {
					t.Fatalf("cursor %q gave %d:%d", s, p, o)
				}
			}
		}
		for _, sep := range []string{":", "="} {
			if kvs, err := parseLines(s, sep); err == nil {
				for _, kv := range kvs {
					if strings.Contains(kv[0], "\n") || strings.Contains(kv[1], "\n") {
						t.Fatalf("line %q split badly: %q", s, kv)
					}
				}
			}
		}
		_, _ = parseTimestamp(s)
	})
}
