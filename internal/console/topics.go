package console

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionHealth sums up the replicas of the partitions in md.
type partitionHealth struct {
	Partitions, UnderReplicated, Offline int
}

func healthOf(ps kadm.PartitionDetails) partitionHealth {
	var h partitionHealth
	for _, p := range ps {
		h.Partitions++
		switch {
		case p.Leader < 0:
			h.Offline++
		case len(p.ISR) < len(p.Replicas):
			h.UnderReplicated++
		}
	}
	return h
}

type brokerRow struct {
	BrokerInfo
	Address           string
	Controller        bool
	Leaders           int
	BytesIn, BytesOut string
}

type problemPartition struct {
	Topic     string
	Partition int32
	Leader    int32
	Replicas  []int32
	ISR       []int32
	Offline   bool
}

type overviewData struct {
	ClusterID       string
	Controller      int32
	MetadataOffset  int64
	Quorum          *quorumInfo
	QuorumErr       string
	Brokers         []brokerRow
	Topics          int
	Internal        int
	Health          partitionHealth
	Problems        []problemPartition
	BytesIn         string
	BytesOut        string
	MetadataErr     string
	ProblemsTrimmed int
}

type quorumInfo struct {
	LeaderID    int32
	LeaderEpoch int32
	HighWater   int64
	Voters      []quorumVoter
}

type quorumVoter struct {
	ID     int32
	LogEnd int64
	Lag    int64
}

// maxProblems bounds the rows of the under-replicated table.
const maxProblems = 200

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	var d overviewData
	info := c.o.Cluster()
	d.ClusterID, d.MetadataOffset = info.ClusterID, info.MetadataOffset
	md, err := c.adm.Metadata(ctx)
	leaders := map[int32]int{}
	if err != nil {
		d.MetadataErr = err.Error()
	} else {
		d.Controller = md.Controller
		for _, name := range md.Topics.Names() {
			t := md.Topics[name]
			if t.IsInternal {
				d.Internal++
			} else {
				d.Topics++
			}
			h := healthOf(t.Partitions)
			d.Health.Partitions += h.Partitions
			d.Health.UnderReplicated += h.UnderReplicated
			d.Health.Offline += h.Offline
			for _, p := range t.Partitions.Sorted() {
				if p.Leader >= 0 {
					leaders[p.Leader]++
				}
				if p.Leader < 0 || len(p.ISR) < len(p.Replicas) {
					if len(d.Problems) >= maxProblems {
						d.ProblemsTrimmed++
						continue
					}
					d.Problems = append(d.Problems, problemPartition{Topic: name, Partition: p.Partition,
						Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, Offline: p.Leader < 0})
				}
			}
		}
	}
	var in, out float64
	for _, b := range info.Brokers {
		row := brokerRow{BrokerInfo: b, Address: fmt.Sprintf("%s:%d", b.Host, b.Port), Controller: b.ID == d.Controller,
			Leaders: leaders[b.ID], BytesIn: "-", BytesOut: "-"}
		if rate := c.stats.brokerRate(b.ID); rate != nil {
			row.BytesIn, row.BytesOut = humanBytes(rate[0])+"/s", humanBytes(rate[1])+"/s"
			in += rate[0]
			out += rate[1]
		}
		d.Brokers = append(d.Brokers, row)
	}
	d.BytesIn, d.BytesOut = humanBytes(in)+"/s", humanBytes(out)+"/s"
	if q, err := c.describeQuorum(r); err != nil {
		d.QuorumErr = err.Error()
	} else {
		d.Quorum = q
	}
	c.render(w, r, http.StatusOK, "overview", "Overview", "overview", d)
}

// describeQuorum asks for the metadata quorum's state (DescribeQuorum,
// KIP-595), which kadm does not wrap.
func (c *Console) describeQuorum(r *http.Request) (*quorumInfo, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rp := kmsg.NewDescribeQuorumRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, kafkaErr(err, resp.ErrorMessage)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, errors.New("DescribeQuorum: no partition in the answer")
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, kafkaErr(err, p.ErrorMessage)
	}
	q := &quorumInfo{LeaderID: p.LeaderID, LeaderEpoch: p.LeaderEpoch, HighWater: p.HighWatermark}
	for _, v := range p.CurrentVoters {
		qv := quorumVoter{ID: v.ReplicaID, LogEnd: v.LogEndOffset, Lag: -1} // -1: unknown (a voter the leader has not heard from)
		if v.LogEndOffset >= 0 {
			qv.Lag = max(0, p.HighWatermark-v.LogEndOffset)
		}
		q.Voters = append(q.Voters, qv)
	}
	return q, nil
}

type topicRow struct {
	Name              string
	Internal          bool
	Partitions        int
	Replication       int
	UnderReplicated   int
	Offline           int
	Size              string
	BytesIn, BytesOut string
	RecordsIn         string
}

type topicsData struct {
	Query  string
	Topics []topicRow
	Err    string
	Total  int
}

func (c *Console) topics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := topicsData{Query: q}
	md, err := c.adm.Metadata(ctx)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	sizes := c.leaderSizes(r, md)
	for _, name := range md.Topics.Names() {
		d.Total++
		if q != "" && !strings.Contains(strings.ToLower(name), strings.ToLower(q)) {
			continue
		}
		t := md.Topics[name]
		h := healthOf(t.Partitions)
		row := topicRow{Name: name, Internal: t.IsInternal, Partitions: h.Partitions, UnderReplicated: h.UnderReplicated,
			Offline: h.Offline, Size: "-", BytesIn: "-", BytesOut: "-", RecordsIn: "-"}
		if len(t.Partitions) > 0 {
			row.Replication = len(t.Partitions[0].Replicas)
		}
		if s, ok := sizes[name]; ok {
			row.Size = humanBytes(float64(s))
		}
		if rate := c.stats.topicRate(name); rate != nil {
			row.BytesIn, row.BytesOut, row.RecordsIn = humanBytes(rate[0])+"/s", humanBytes(rate[1])+"/s", humanCount(rate[2])+"/s"
		}
		d.Topics = append(d.Topics, row)
	}
	c.render(w, r, http.StatusOK, "topics", "Topics", "topics", d)
}

// leaderSizes is each topic's size on disk, counting each partition's
// leader replica once (DescribeLogDirs of every broker); what cannot be
// described is left out.
func (c *Console) leaderSizes(r *http.Request, md kadm.Metadata) map[string]int64 {
	ctx, cancel := c.ctx(r)
	defer cancel()
	// A broker that does not answer is left out (kadm returns what the
	// others answered with the error).
	dirs, _ := c.adm.DescribeAllLogDirs(ctx, nil)
	out := map[string]int64{}
	dirs.Each(func(d kadm.DescribedLogDir) {
		for topic, ps := range d.Topics {
			t, ok := md.Topics[topic]
			if !ok {
				continue
			}
			for p, dp := range ps {
				if tp, ok := t.Partitions[p]; ok && tp.Leader == d.Broker {
					out[topic] += dp.Size
				}
			}
		}
	})
	return out
}

type partitionRow struct {
	Partition        int32
	Leader           int32
	Replicas         []int32
	ISR              []int32
	UnderReplicated  bool
	Offline          bool
	Start, End       int64
	Size             string
	BytesIn          uint64
	Share            float64 // of the topic's bytes in, 0..100
	ShareText        string
	TopKeys          []keyRow
	KeysTotal        uint64
	NullKeys         uint64
	Err              string
	BarWidth         int
	LeaderHasTraffic bool
}

type keyRow struct {
	Key       string
	Count     string
	Share     string
	Truncated bool
	Err       string
}

type configRow struct {
	Name      string
	Value     string
	Source    string
	Sensitive bool
	Default   bool
}

type topicData struct {
	Name       string
	Internal   bool
	ID         string
	Partitions []partitionRow
	Health     partitionHealth
	Configs    []configRow
	ConfigsErr string
	Plot       template.HTML
	TotalIn    string
	// EditName and EditValue refill the config form after a refused
	// change, so the operator sees what was refused.
	EditName, EditValue string
}

func (c *Console) topic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	ctx, cancel := c.ctx(r)
	defer cancel()
	md, err := c.adm.Metadata(ctx, name)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	t, ok := md.Topics[name]
	if !ok || t.Err != nil {
		err := t.Err
		if err == nil {
			err = kerr.UnknownTopicOrPartition
		}
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("topic %q: %w", name, err))
		return
	}
	d := topicData{Name: name, Internal: t.IsInternal, ID: fmt.Sprint(t.ID), Health: healthOf(t.Partitions),
		EditName: r.URL.Query().Get("name"), EditValue: r.URL.Query().Get("value")}
	starts, _ := c.adm.ListStartOffsets(ctx, name)
	ends, _ := c.adm.ListEndOffsets(ctx, name)
	sizes := map[int32]int64{}
	set := kadm.TopicsSet{}
	set.Add(name, t.Partitions.Numbers()...)
	if dirs, _ := c.adm.DescribeAllLogDirs(ctx, set); dirs != nil {
		dirs.Each(func(dd kadm.DescribedLogDir) {
			for p, dp := range dd.Topics[name] {
				if tp, ok := t.Partitions[p]; ok && tp.Leader == dd.Broker {
					sizes[p] = dp.Size
				}
			}
		})
	}
	for _, p := range t.Partitions.Sorted() {
		row := partitionRow{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR,
			Offline: p.Leader < 0, UnderReplicated: p.Leader >= 0 && len(p.ISR) < len(p.Replicas), Start: -1, End: -1, Size: "-"}
		if o, ok := starts.Lookup(name, p.Partition); ok && o.Err == nil {
			row.Start = o.Offset
		}
		if o, ok := ends.Lookup(name, p.Partition); ok && o.Err == nil {
			row.End = o.Offset
		}
		if s, ok := sizes[p.Partition]; ok {
			row.Size = humanBytes(float64(s))
		}
		if p.Err != nil {
			row.Err = p.Err.Error()
		}
		d.Partitions = append(d.Partitions, row)
	}
	c.hotPartitions(r, &d)
	c.topicPlot(&d)
	if rc, err := c.adm.DescribeTopicConfigs(ctx, name); err != nil {
		d.ConfigsErr = err.Error()
	} else if len(rc) == 1 && rc[0].Err != nil {
		d.ConfigsErr = kafkaErr(rc[0].Err, &rc[0].ErrMessage).Error()
	} else if len(rc) == 1 {
		for _, cf := range rc[0].Configs {
			row := configRow{Name: cf.Key, Source: strings.ToLower(strings.TrimSuffix(cf.Source.String(), "_CONFIG")), Sensitive: cf.Sensitive,
				Default: cf.Source != kmsg.ConfigSourceDynamicTopicConfig}
			if cf.Value != nil {
				row.Value = *cf.Value
			} else if cf.Sensitive {
				row.Value = "(sensitive)"
			}
			d.Configs = append(d.Configs, row)
		}
		sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Name < d.Configs[j].Name })
	}
	c.render(w, r, http.StatusOK, "topic", "Topic "+name, "topics", d)
}

func (c *Console) topicPlot(d *topicData) {
	ts, vs := c.stats.topic(d.Name)
	in := make([]float64, len(vs))
	out := make([]float64, len(vs))
	for i, v := range vs {
		in[i], out[i] = v[0], v[1]
	}
	d.Plot = plot{Title: "Bytes in/out per second", ID: "plot-traffic", Times: ts, Format: func(v float64) string { return humanBytes(v) + "/s" },
		Lines: []line{{Name: "in", Color: "#1f77b4", Values: in}, {Name: "out", Color: "#ff7f0e", Values: out}}}.svg()
}

// hotPartitions fills each partition's share of the topic's bytes in (since
// its leader started counting) and its top keys, from the brokers' local
// answers.
func (c *Console) hotPartitions(r *http.Request, d *topicData) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	var total uint64
	byPart := map[int32]PartitionTraffic{}
	for _, lt := range c.gather(ctx, d.Name, true) {
		for _, p := range lt.Partitions {
			if p.Topic != d.Name {
				continue
			}
			cur := byPart[p.Partition]
			// Bytes in are counted by whichever replica led: sum
			// them; the keys come from the current leader.
			cur.BytesIn += p.BytesIn
			if p.Leader {
				cur.TopKeys, cur.KeysTotal, cur.NullKeys, cur.Leader = p.TopKeys, p.KeysTotal, p.NullKeys, true
			}
			byPart[p.Partition] = cur
			total += p.BytesIn
		}
	}
	d.TotalIn = humanBytes(float64(total))
	for i := range d.Partitions {
		row := &d.Partitions[i]
		pt := byPart[row.Partition]
		row.BytesIn, row.KeysTotal, row.NullKeys, row.LeaderHasTraffic = pt.BytesIn, pt.KeysTotal, pt.NullKeys, pt.Leader
		if total > 0 {
			row.Share = 100 * float64(pt.BytesIn) / float64(total)
		}
		row.ShareText = fmt.Sprintf("%.1f%%", row.Share)
		row.BarWidth = int(row.Share * 2) // of 200 px
		for _, k := range pt.TopKeys[:min(len(pt.TopKeys), 5)] {
			kr := keyRow{Key: k.Key, Count: humanCount(float64(k.Count)), Truncated: k.Truncated}
			if k.Err > 0 {
				// An estimate: the true count is between Count-Err
				// and Count.
				kr.Count = "≤" + kr.Count
			}
			if pt.KeysTotal > 0 {
				kr.Share = fmt.Sprintf("%.1f%%", 100*float64(k.Count)/float64(pt.KeysTotal))
			}
			if k.Err > 0 {
				kr.Err = fmt.Sprintf("between %s and %s", humanCount(float64(k.Count-k.Err)), humanCount(float64(k.Count)))
			}
			row.TopKeys = append(row.TopKeys, kr)
		}
	}
}

// topicPath is the console path of a topic's page.
func topicPath(name string) string { return "/topics/" + url.PathEscape(name) }

func (c *Console) createTopic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	parts, err := formInt(r, "partitions", -1)
	if err != nil {
		redirect(w, r, "/topics", "", err)
		return
	}
	rf, err := formInt(r, "replication", -1)
	if err != nil {
		redirect(w, r, "/topics", "", err)
		return
	}
	configs, err := parseLines(r.PostForm.Get("configs"), "=")
	if err != nil {
		redirect(w, r, "/topics", "", err)
		return
	}
	cfg := map[string]*string{}
	for _, kv := range configs {
		cfg[kv[0]] = &kv[1]
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	resp, err := c.adm.CreateTopic(ctx, int32(parts), int16(rf), cfg, name)
	if err == nil {
		err = kafkaErr(resp.Err, &resp.ErrMessage)
	}
	if err != nil {
		redirect(w, r, "/topics", "", fmt.Errorf("create topic %q: %w", name, err))
		return
	}
	c.awaitPartitions(ctx, name, int(resp.NumPartitions))
	redirect(w, r, topicPath(name), fmt.Sprintf("Created topic %s with %d partitions.", name, resp.NumPartitions), nil)
}

func (c *Console) deleteTopic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	if r.PostForm.Get("confirm") != name {
		redirect(w, r, topicPath(name), "", errors.New("type the topic's name to confirm its deletion"))
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	resp, err := c.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = kafkaErr(resp.Err, &resp.ErrMessage)
	}
	if err != nil {
		redirect(w, r, topicPath(name), "", fmt.Errorf("delete topic: %w", err))
		return
	}
	redirect(w, r, "/topics", "Deleted topic "+name+".", nil)
}

func (c *Console) addPartitions(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	total, err := formInt(r, "total", 0)
	if err != nil {
		redirect(w, r, topicPath(name), "", err)
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	resps, err := c.adm.UpdatePartitions(ctx, total, name)
	if err == nil {
		resp := resps[name]
		err = kafkaErr(resp.Err, &resp.ErrMessage)
	}
	if err != nil {
		redirect(w, r, topicPath(name), "", fmt.Errorf("add partitions: %w", err))
		return
	}
	c.awaitPartitions(ctx, name, total)
	redirect(w, r, topicPath(name), fmt.Sprintf("The topic now has %d partitions.", total), nil)
}

// awaitPartitions waits, briefly, until the broker's metadata shows topic
// with n partitions, each with a leader: the controller has committed the
// change when CreateTopics or CreatePartitions answers, but the brokers
// apply it a moment later, and the page the operator is sent to should
// show what was just made. Past the wait the page shows what there is.
func (c *Console) awaitPartitions(ctx context.Context, topic string, n int) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if md, err := c.adm.Metadata(ctx, topic); err == nil {
			td := md.Topics[topic]
			led := 0
			for _, p := range td.Partitions {
				if p.Leader >= 0 {
					led++
				}
			}
			if td.Err == nil && len(td.Partitions) == n && led == n {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// alterConfig sets or deletes one topic config (IncrementalAlterConfigs);
// a refused value comes back with the broker's validation message.
func (c *Console) alterConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	key := strings.TrimSpace(r.PostForm.Get("name"))
	value := r.PostForm.Get("value")
	op := kadm.SetConfig
	if r.PostForm.Get("op") == "delete" {
		op = kadm.DeleteConfig
	}
	back := topicPath(name) + "?" + url.Values{"name": {key}, "value": {value}}.Encode() + "#configs"
	if key == "" {
		redirect(w, r, back, "", errors.New("a config name is required"))
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	ac := kadm.AlterConfig{Op: op, Name: key}
	if op == kadm.SetConfig {
		ac.Value = &value
	}
	resps, err := c.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{ac}, name)
	if err == nil {
		for _, resp := range resps {
			if err = kafkaErr(resp.Err, &resp.ErrMessage); err != nil {
				break
			}
		}
	}
	if err != nil {
		redirect(w, r, back, "", fmt.Errorf("%s=%s refused: %w", key, value, err))
		return
	}
	msg := fmt.Sprintf("Set %s=%s.", key, value)
	if op == kadm.DeleteConfig {
		msg = fmt.Sprintf("Removed the override of %s.", key)
	}
	redirect(w, r, topicPath(name)+"#configs", msg, nil)
}

// formInt reads an integer form field; def is used when it is empty.
func formInt(r *http.Request, name string, def int) (int, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a number", name, v)
	}
	return n, nil
}

// parseLines reads "name<sep>value" lines (configs, headers), skipping
// blank ones.
func parseLines(s, sep string) ([][2]string, error) {
	var out [][2]string
	for l := range strings.Lines(s) {
		l = strings.TrimRight(l, "\r\n")
		if strings.TrimSpace(l) == "" {
			continue
		}
		k, v, ok := strings.Cut(l, sep)
		if !ok {
			return nil, fmt.Errorf("line %q: want name%svalue", l, sep)
		}
		out = append(out, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
	}
	return out, nil
}

func urlQuery(s string) string { return url.QueryEscape(s) }

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ", ")
}

func containsID(ids []int32, id int32) bool { return slices.Contains(ids, id) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
