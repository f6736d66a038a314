package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// series is a ring buffer of samples, each a time and a fixed number of
// values: the last Points samples, the oldest overwritten.
type series struct {
	times []time.Time
	vals  [][]float64
	head  int // where the next sample goes
	n     int
}

func newSeries(points int) *series {
	return &series{times: make([]time.Time, points), vals: make([][]float64, points)}
}

func (s *series) add(t time.Time, v ...float64) {
	s.times[s.head] = t
	s.vals[s.head] = v
	s.head = (s.head + 1) % len(s.times)
	s.n = min(s.n+1, len(s.times))
}

// snapshot returns the samples oldest first.
func (s *series) snapshot() ([]time.Time, [][]float64) {
	ts := make([]time.Time, 0, s.n)
	vs := make([][]float64, 0, s.n)
	for i := range s.n {
		j := (s.head - s.n + i + len(s.times)) % len(s.times)
		ts = append(ts, s.times[j])
		vs = append(vs, s.vals[j])
	}
	return ts, vs
}

func (s *series) last() []float64 {
	if s.n == 0 {
		return nil
	}
	return s.vals[(s.head-1+len(s.times))%len(s.times)]
}

// maxTopicSeries bounds how many topics' traffic is kept.
const maxTopicSeries = 2000

// stats holds the sampled time series: per topic bytes in/out and records
// in per second (cluster-wide), per broker bytes in/out per second, and
// per group total lag.
type stats struct {
	mu      sync.Mutex
	points  int
	topics  map[string]*series // bytes in/s, bytes out/s, records in/s
	brokers map[int32]*series  // bytes in/s, bytes out/s
	groups  map[string]*series // lag in records
	// prev are the counters of the previous sample, per broker and topic,
	// and when it was taken.
	prev     map[int32]map[string][3]uint64
	prevTime map[int32]time.Time
}

func newStats(points int) *stats {
	return &stats{points: points, topics: map[string]*series{}, brokers: map[int32]*series{},
		groups: map[string]*series{}, prev: map[int32]map[string][3]uint64{}, prevTime: map[int32]time.Time{}}
}

// addTraffic turns the brokers' cumulative counters into rates. Each
// broker's counters are differenced against its own previous answer: a
// counter that went down is a restarted broker (or a replica recreated),
// whose whole count is new since. Leadership moving between brokers moves
// which broker counts, not what was counted, so the sum stays right.
func (s *stats) addTraffic(now time.Time, answers []LocalTraffic) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rates := map[string][3]float64{}
	for _, a := range answers {
		cur := map[string][3]uint64{}
		for _, p := range a.Partitions {
			c := cur[p.Topic]
			c[0] += p.BytesIn
			c[1] += p.BytesOut
			c[2] += p.RecordsIn
			cur[p.Topic] = c
		}
		prev, seen := s.prev[a.Node]
		dt := now.Sub(s.prevTime[a.Node]).Seconds()
		s.prev[a.Node], s.prevTime[a.Node] = cur, now
		if !seen || dt <= 0 {
			continue // the first answer is the baseline
		}
		var bIn, bOut float64
		for topic, c := range cur {
			p := prev[topic]
			r := rates[topic]
			for i := range c {
				d := c[i]
				if c[i] >= p[i] {
					d = c[i] - p[i]
				}
				r[i] += float64(d) / dt
			}
			rates[topic] = r
			bIn += r[0]
			bOut += r[1]
		}
		bs := s.brokers[a.Node]
		if bs == nil {
			bs = newSeries(s.points)
			s.brokers[a.Node] = bs
		}
		bs.add(now, bIn, bOut)
	}
	for topic, r := range rates {
		ts := s.topics[topic]
		if ts == nil {
			if len(s.topics) >= maxTopicSeries {
				continue
			}
			ts = newSeries(s.points)
			s.topics[topic] = ts
		}
		ts.add(now, r[0], r[1], r[2])
	}
}

// addLag records each group's total lag; groups no longer listed are
// forgotten, so the tracked set follows the cluster's.
func (s *stats) addLag(now time.Time, lags map[string]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for g := range s.groups {
		if _, ok := lags[g]; !ok {
			delete(s.groups, g)
		}
	}
	for g, v := range lags {
		gs := s.groups[g]
		if gs == nil {
			gs = newSeries(s.points)
			s.groups[g] = gs
		}
		gs.add(now, v)
	}
}

// forgetTopics drops the series of topics that no longer exist.
func (s *stats) forgetTopics(exists func(string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t := range s.topics {
		if !exists(t) {
			delete(s.topics, t)
		}
	}
}

func (s *stats) topic(name string) ([]time.Time, [][]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.topics[name]; ts != nil {
		return ts.snapshot()
	}
	return nil, nil
}

func (s *stats) topicRate(name string) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.topics[name]; ts != nil {
		return ts.last()
	}
	return nil
}

func (s *stats) brokerRate(id int32) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if bs := s.brokers[id]; bs != nil {
		return bs.last()
	}
	return nil
}

func (s *stats) group(name string) ([]time.Time, [][]float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gs := s.groups[name]; gs != nil {
		return gs.snapshot()
	}
	return nil, nil
}

// sample runs until Close: every SampleInterval it gathers the brokers'
// traffic and the groups' lag.
func (c *Console) sample() {
	defer c.wg.Done()
	t := time.NewTicker(c.o.SampleInterval)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(c.base, max(c.o.SampleInterval, 2*time.Second))
		c.sampleOnce(ctx)
		cancel()
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

func (c *Console) sampleOnce(ctx context.Context) {
	now := time.Now()
	c.stats.addTraffic(now, c.gather(ctx, "", false))
	if md, err := c.adm.ListTopicsWithInternal(ctx); err == nil {
		c.stats.forgetTopics(func(t string) bool { _, ok := md[t]; return ok })
	}
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		return
	}
	names := listed.Groups()
	sort.Strings(names)
	names = names[:min(len(names), c.o.MaxGroups)]
	lags := map[string]float64{}
	if len(names) > 0 {
		described, err := c.adm.Lag(ctx, names...)
		if err != nil {
			return
		}
		for g, l := range described {
			if l.Error() != nil {
				continue
			}
			lags[g] = float64(l.Lag.Total())
		}
	}
	c.stats.addLag(now, lags)
}

// gather asks every live broker for its local traffic (this one directly,
// the others over HTTP), in parallel. A broker that does not answer is
// left out: its counters resume when it answers again.
func (c *Console) gather(ctx context.Context, topic string, keys bool) []LocalTraffic {
	var brokers []BrokerInfo
	if c.o.Cluster != nil {
		brokers = c.o.Cluster().Brokers
	}
	out := []LocalTraffic{c.o.Local(topic, keys)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, b := range brokers {
		if b.ID == c.o.NodeID || b.Fenced || b.HTTP == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lt, err := c.peerTraffic(ctx, b.HTTP, topic, keys)
			if err != nil {
				c.log.Debug("console: broker traffic", "node", b.ID, "err", err)
				return
			}
			mu.Lock()
			out = append(out, lt)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b LocalTraffic) int { return int(a.Node - b.Node) })
	return out
}

func (c *Console) peerTraffic(ctx context.Context, addr, topic string, keys bool) (LocalTraffic, error) {
	u := "http://" + addr + "/api/v1/local/traffic?topic=" + urlQuery(topic)
	if keys {
		u += "&keys=1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return LocalTraffic{}, err
	}
	resp, err := c.peers.Do(req)
	if err != nil {
		return LocalTraffic{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return LocalTraffic{}, fmt.Errorf("%s: %s", u, resp.Status)
	}
	var lt LocalTraffic
	// A broker's answer is bounded: 64 MiB is some hundred thousand
	// partitions.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&lt); err != nil {
		return LocalTraffic{}, fmt.Errorf("%s: %w", u, err)
	}
	return lt, nil
}

func (c *Console) localTraffic(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	lt := c.o.Local(topic, topic != "" && r.URL.Query().Get("keys") == "1")
	writeJSON(w, lt)
}

// seriesJSON is a time series as the JSON API serves it.
type seriesJSON struct {
	Names  []string    `json:"names"`
	Times  []int64     `json:"times"` // Unix milliseconds
	Values [][]float64 `json:"values"`
}

func (c *Console) topicSeries(w http.ResponseWriter, r *http.Request) {
	ts, vs := c.stats.topic(r.PathValue("topic"))
	writeJSON(w, toSeriesJSON([]string{"bytesInPerSec", "bytesOutPerSec", "recordsInPerSec"}, ts, vs))
}

func (c *Console) groupSeries(w http.ResponseWriter, r *http.Request) {
	ts, vs := c.stats.group(r.PathValue("group"))
	writeJSON(w, toSeriesJSON([]string{"lag"}, ts, vs))
}

func toSeriesJSON(names []string, ts []time.Time, vs [][]float64) seriesJSON {
	out := seriesJSON{Names: names, Times: make([]int64, len(ts)), Values: vs}
	for i, t := range ts {
		out.Times[i] = t.UnixMilli()
	}
	if out.Values == nil {
		out.Values = [][]float64{}
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
