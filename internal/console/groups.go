package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

type groupRow struct {
	Name     string
	State    string
	Protocol string
	Members  int
	Lag      string
	Err      string
}

func (c *Console) groups(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	listed, err := c.adm.ListGroups(ctx)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	names := listed.Groups()
	sort.Strings(names)
	var rows []groupRow
	lags, err := c.adm.Lag(ctx, names...)
	for _, g := range names {
		row := groupRow{Name: g, State: listed[g].State, Protocol: listed[g].ProtocolType, Lag: "-"}
		if err != nil {
			row.Err = err.Error()
		} else if l, ok := lags[g]; ok {
			row.State, row.Members = l.State, len(l.Members)
			if e := l.Error(); e != nil {
				row.Err = e.Error()
			} else {
				row.Lag = strconv.FormatInt(l.Lag.Total(), 10)
			}
		}
		rows = append(rows, row)
	}
	c.render(w, r, http.StatusOK, "groups", "Consumer groups", "groups", rows)
}

type memberRow struct {
	ID, InstanceID, ClientID, Host string
	Assigned                       string
}

type lagRow struct {
	Topic     string
	Partition int32
	Committed int64
	End       int64
	Lag       int64
	Member    string
	Err       string
}

type resetRow struct {
	Topic     string
	Partition int32
	Current   int64
	New       int64
	Change    int64
}

type groupData struct {
	Name     string
	State    string
	Protocol string
	Members  []memberRow
	Lag      []lagRow
	TotalLag int64
	Plot     template.HTML
	Err      string
	Topics   []string
	// The reset form as given, and its dry-run preview.
	ResetTo, ResetTopic, ResetValue string
	Preview                         []resetRow
}

func (c *Console) group(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	d, err := c.groupData(r, name)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	c.render(w, r, http.StatusOK, "group", "Group "+name, "groups", d)
}

func (c *Console) groupData(r *http.Request, name string) (*groupData, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	lags, err := c.adm.Lag(ctx, name)
	if err != nil {
		return nil, err
	}
	l, ok := lags[name]
	if !ok {
		return nil, fmt.Errorf("group %q: not found", name)
	}
	d := &groupData{Name: name, State: l.State, Protocol: l.Protocol}
	if e := l.Error(); e != nil {
		d.Err = e.Error()
	}
	for _, m := range l.Members {
		mr := memberRow{ID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
		if m.InstanceID != nil {
			mr.InstanceID = *m.InstanceID
		}
		if ca, ok := m.Assigned.AsConsumer(); ok {
			var parts []string
			for _, t := range ca.Topics {
				ps := make([]string, len(t.Partitions))
				for i, p := range t.Partitions {
					ps[i] = strconv.Itoa(int(p))
				}
				parts = append(parts, t.Topic+" ["+strings.Join(ps, ", ")+"]")
			}
			mr.Assigned = strings.Join(parts, "; ")
		}
		d.Members = append(d.Members, mr)
	}
	topics := map[string]bool{}
	for _, ml := range l.Lag.Sorted() {
		lr := lagRow{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, End: ml.End.Offset, Lag: ml.Lag}
		if ml.Member != nil {
			lr.Member = ml.Member.ClientID + " (" + ml.Member.ClientHost + ")"
		}
		if ml.Err != nil {
			lr.Err = ml.Err.Error()
		}
		if ml.Lag > 0 {
			d.TotalLag += ml.Lag
		}
		topics[ml.Topic] = true
		d.Lag = append(d.Lag, lr)
	}
	for t := range topics {
		d.Topics = append(d.Topics, t)
	}
	sort.Strings(d.Topics)
	ts, vs := c.stats.group(name)
	vals := make([]float64, len(vs))
	for i, v := range vs {
		vals[i] = v[0]
	}
	d.Plot = plot{Title: "Lag (records) over time", ID: "plot-lag", Times: ts, Format: humanCount,
		Lines: []line{{Name: "lag", Color: "#d62728", Values: vals}}}.svg()
	return d, nil
}

// resetOffsets moves a group's committed offsets to the earliest, the
// latest, a timestamp or an offset, for one topic or all it committed;
// with dry-run it only shows what would change. As kafka-consumer-groups,
// it refuses a group with members: they would overwrite the reset with
// their next commit.
func (c *Console) resetOffsets(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	d, err := c.groupData(r, name)
	if err != nil {
		c.fail(w, r, http.StatusBadGateway, err)
		return
	}
	d.ResetTo, d.ResetTopic, d.ResetValue = r.PostForm.Get("to"), r.PostForm.Get("topic"), strings.TrimSpace(r.PostForm.Get("value"))
	back := "/groups/" + url.PathEscape(name)
	preview, err := c.planReset(r, d)
	if err != nil {
		redirect(w, r, back, "", fmt.Errorf("reset offsets: %w", err))
		return
	}
	if r.PostForm.Get("dryrun") != "" {
		d.Preview = preview
		c.render(w, r, http.StatusOK, "group", "Group "+name, "groups", d)
		return
	}
	if len(d.Members) > 0 || (d.State != "Empty" && d.State != "Dead") {
		redirect(w, r, back, "", fmt.Errorf("reset offsets: group %s is %s with %d members; stop its consumers first", name, d.State, len(d.Members)))
		return
	}
	os := kadm.Offsets{}
	for _, p := range preview {
		os.Add(kadm.Offset{Topic: p.Topic, Partition: p.Partition, At: p.New, LeaderEpoch: -1})
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	resps, err := c.adm.CommitOffsets(ctx, name, os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		redirect(w, r, back, "", fmt.Errorf("reset offsets: %w", err))
		return
	}
	redirect(w, r, back, fmt.Sprintf("Reset %d partitions.", len(preview)), nil)
}

// planReset computes each committed partition's new offset, clamped to the
// partition's start and end as Kafka's tool clamps it.
func (c *Console) planReset(r *http.Request, d *groupData) ([]resetRow, error) {
	var topics []string
	for _, t := range d.Topics {
		if d.ResetTopic == "" || d.ResetTopic == t {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return nil, errors.New("the group has no committed offsets for that topic")
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	starts, err := c.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := c.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var target kadm.ListedOffsets
	var at int64
	switch d.ResetTo {
	case "earliest", "latest":
	case "timestamp":
		ms, err := parseTimestamp(d.ResetValue)
		if err != nil {
			return nil, err
		}
		if target, err = c.adm.ListOffsetsAfterMilli(ctx, ms, topics...); err != nil {
			return nil, err
		}
	case "offset":
		if at, err = strconv.ParseInt(d.ResetValue, 10, 64); err != nil {
			return nil, fmt.Errorf("offset %q is not a number", d.ResetValue)
		}
	default:
		return nil, fmt.Errorf("reset to %q: want earliest, latest, timestamp or offset", d.ResetTo)
	}
	var out []resetRow
	for _, l := range d.Lag {
		if !containsString(topics, l.Topic) || l.Committed < 0 {
			continue
		}
		s, ok1 := starts.Lookup(l.Topic, l.Partition)
		e, ok2 := ends.Lookup(l.Topic, l.Partition)
		if !ok1 || !ok2 || s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("%s[%d]: offsets unavailable", l.Topic, l.Partition)
		}
		n := int64(0)
		switch d.ResetTo {
		case "earliest":
			n = s.Offset
		case "latest":
			n = e.Offset
		case "timestamp":
			n = e.Offset // no record at or after the time: the end
			if o, ok := target.Lookup(l.Topic, l.Partition); ok && o.Err == nil && o.Offset >= 0 {
				n = o.Offset
			}
		case "offset":
			n = at
		}
		n = min(max(n, s.Offset), e.Offset)
		out = append(out, resetRow{Topic: l.Topic, Partition: l.Partition, Current: l.Committed, New: n, Change: n - l.Committed})
	}
	return out, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
