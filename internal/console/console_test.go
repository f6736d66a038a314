package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/console"
	"github.com/samsa-kafka/samsa/test/cluster"
)

// client is a browser without JavaScript: it follows redirects and reads
// pages as text.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newClient(t *testing.T, addr string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: "http://" + addr, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func (c *client) csrf() string {
	c.t.Helper()
	_, body := c.get("/topics")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no csrf token on /topics:\n%s", body)
	}
	return m[1]
}

func (c *client) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	resp, err := c.hc.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("page lacks %q:\n%s", w, body)
		}
	}
}

// TestConsolePages drives the console as a browser without JavaScript
// would: create a topic, produce to it, browse it by offset and by value,
// edit a config (and see a bad value refused with the broker's message),
// add partitions, and see a consumer group's lag.
func TestConsolePages(t *testing.T) {
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0", "samsa.console.sample.interval.ms=100", "num.partitions=1")
	c := newClient(t, b.HTTPAddr())
	token := c.csrf()

	status, body := c.get("/")
	if status != http.StatusOK {
		t.Fatalf("overview: %d\n%s", status, body)
	}
	mustContain(t, body, "Brokers", `id="no-problems"`)

	status, body = c.post("/topics", url.Values{"csrf": {token}, "name": {"orders"}, "partitions": {"3"}, "replication": {"1"}})
	if status != http.StatusOK {
		t.Fatalf("create: %d\n%s", status, body)
	}
	mustContain(t, body, "Created topic orders with 3 partitions.", "Topic orders")
	// Sizes from DescribeLogDirs: an empty partition is 0 bytes.
	mustContain(t, body, `<td class="num">0</td><td class="num">0</td><td class="num">0 B</td>`)

	for i, v := range []string{`{"id":1,"item":"apple"}`, `{"id":2,"item":"banana"}`, `{"id":3,"item":"cherry"}`} {
		status, body = c.post("/topics/orders/produce", url.Values{"csrf": {token}, "partition": {"1"},
			"key": {fmt.Sprint("k", i)}, "value": {v}, "headers": {"source: console"}})
		mustContain(t, body, fmt.Sprintf("Produced to partition 1 at offset %d.", i))
	}
	_, body = c.get("/topics/orders/messages?partition=1&from=offset&offset=1&render=text")
	mustContain(t, body, "banana", "cherry", "<b>source</b>: console", "2 records shown, 2 read; the end of the log")
	if strings.Contains(body, "apple") {
		t.Fatalf("offset 1 shows offset 0's record:\n%s", body)
	}
	_, body = c.get("/topics/orders/messages?value=cherry&render=json")
	mustContain(t, body, "1 records shown, 3 read", "&#34;item&#34;: &#34;cherry&#34;")
	_, body = c.get("/topics/orders/messages?from=end&partition=1&limit=1&render=hex")
	mustContain(t, body, fmt.Sprintf("%x", `{"id":3,"item":"cherry"}`), "1 records shown")

	// Paging: one record a page, three pages, then the end.
	next := "/topics/orders/messages?partition=1&limit=1"
	var seen []string
	for range 3 {
		_, body = c.get(next)
		m := regexp.MustCompile(`"item":"(\w+)"`).FindStringSubmatch(strings.ReplaceAll(body, "&#34;", `"`))
		if m == nil {
			t.Fatalf("page without a record:\n%s", body)
		}
		seen = append(seen, m[1])
		l := regexp.MustCompile(`href="([^"]+)" id="next-page"`).FindStringSubmatch(body)
		if l == nil {
			break
		}
		next = strings.ReplaceAll(l[1], "&amp;", "&")
	}
	if got := strings.Join(seen, ","); got != "apple,banana,cherry" {
		t.Fatalf("pages %s, want apple,banana,cherry", got)
	}
	if strings.Contains(body, `id="next-page"`) {
		t.Fatalf("the last page links to another:\n%s", body)
	}

	_, body = c.post("/topics/orders/configs", url.Values{"csrf": {token}, "name": {"retention.ms"}, "value": {"-7"}})
	mustContain(t, body, `id="flash-err"`, "retention.ms=-7 refused", "INVALID_CONFIG")
	_, body = c.post("/topics/orders/configs", url.Values{"csrf": {token}, "name": {"retention.ms"}, "value": {"86400000"}})
	mustContain(t, body, "Set retention.ms=86400000.", "<b>86400000</b>")

	_, body = c.post("/topics/orders/partitions", url.Values{"csrf": {token}, "total": {"4"}})
	mustContain(t, body, "The topic now has 4 partitions.")

	// A consumer group that read the first record of partition 1 lags by 2.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	commit(t, ctx, b.Addr(), "billing", "orders", 1, 1)
	_, body = c.get("/groups")
	mustContain(t, body, `href="/groups/billing"`)
	_, body = c.get("/groups/billing")
	mustContain(t, body, `id="total-lag">2<`, "Empty")
	// A dry run shows the change and changes nothing.
	_, body = c.post("/groups/billing/reset", url.Values{"csrf": {token}, "to": {"earliest"}, "dryrun": {"1"}})
	mustContain(t, body, "Dry run: nothing was changed", `<td class="num">1</td><td class="num">0</td><td class="num">-1</td>`)
	_, body = c.get("/groups/billing")
	mustContain(t, body, `id="total-lag">2<`)
	_, body = c.post("/groups/billing/reset", url.Values{"csrf": {token}, "to": {"latest"}})
	mustContain(t, body, "Reset 1 partitions.", `id="total-lag">0<`)

	// The sampler's series for the group reach the JSON API.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, js := c.get("/api/v1/groups/billing/series")
		var s struct{ Values [][]float64 }
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Values) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no lag samples: %s", js)
		}
		time.Sleep(50 * time.Millisecond)
	}

	_, body = c.post("/topics/orders/delete", url.Values{"csrf": {token}, "confirm": {"wrong"}})
	mustContain(t, body, "type the topic&#39;s name to confirm")
	_, body = c.post("/topics/orders/delete", url.Values{"csrf": {token}, "confirm": {"orders"}})
	mustContain(t, body, "Deleted topic orders.")
}

// commit commits offset for group on topic's partition as an admin tool
// would (the group has no members).
func commit(t *testing.T, ctx context.Context, addr, group, topic string, partition int32, offset int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: offset, LeaderEpoch: -1})
	resps, err := kadm.NewClient(cl).CommitOffsets(ctx, group, os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestConsoleRefusesMutations: a read-only console and a form without the
// token change nothing and say why.
func TestConsoleRefusesMutations(t *testing.T) {
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0", "samsa.console.read.only=true")
	c := newClient(t, b.HTTPAddr())
	_, body := c.get("/topics")
	mustContain(t, body, `id="readonly"`, "samsa.console.read.only")
	status, body := c.post("/topics", url.Values{"csrf": {c.csrf()}, "name": {"x"}})
	if status != http.StatusForbidden {
		t.Fatalf("read-only create: %d", status)
	}
	mustContain(t, body, "This console is read-only", "Nothing was changed.")

	b2 := cluster.Start(t, "samsa.http.listen=127.0.0.1:0")
	c2 := newClient(t, b2.HTTPAddr())
	if status, body := c2.post("/topics", url.Values{"name": {"x"}}); status != http.StatusForbidden || !strings.Contains(body, "token is missing") {
		t.Fatalf("no token: %d\n%s", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, c2.base+"/topics", strings.NewReader(url.Values{"csrf": {c2.csrf()}, "name": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := c2.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin create: %d", resp.StatusCode)
	}
	if _, body := c2.get("/topics"); strings.Contains(body, `href="/topics/x"`) {
		t.Fatal("a refused create created the topic")
	}
}

// TestLocalTraffic: the local JSON answer carries the partitions' counters
// and, for a topic, the hot keys of those the broker leads.
func TestLocalTraffic(t *testing.T) {
	b := cluster.Start(t, "samsa.http.listen=127.0.0.1:0", "num.partitions=2")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Enough batches that the sampled sketch counts some: one record a
	// batch, all with key "hot" on partition 0.
	for range 64 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "events", Partition: 0, Key: []byte("hot"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, b.HTTPAddr())
	_, js := c.get("/api/v1/local/traffic?topic=events&keys=1")
	var lt console.LocalTraffic
	if err := json.Unmarshal([]byte(js), &lt); err != nil {
		t.Fatal(err)
	}
	if len(lt.Partitions) != 2 || !lt.Partitions[0].Leader || lt.Partitions[0].Partition != 0 {
		t.Fatalf("local traffic %s", js)
	}
	top := lt.Partitions[0].TopKeys
	if len(top) != 1 || top[0].Key != "hot" || top[0].Count != 64 || lt.Partitions[0].KeysTotal != 64 {
		t.Fatalf("hot keys %+v (total %d), want hot counted 64 times", top, lt.Partitions[0].KeysTotal)
	}
	_, body := c.get("/topics/events")
	mustContain(t, body, "hot: 64 (100.0%)")
}

// TestClusterConsole: on three nodes each broker registers its HTTP
// listener, and one broker's console gathers the hot keys of partitions
// the others lead, over their HTTP listeners.
func TestClusterConsole(t *testing.T) {
	nodes := cluster.StartQuorum(t, 3, "samsa.http.listen=127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(cluster.Bootstrap(nodes), ",")...),
		kgo.DefaultProduceTopic("spread"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if resp, err := adm.CreateTopic(ctx, 3, 3, nil, "spread"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	leaders := map[int32]bool{}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		md, err := adm.Metadata(ctx, "spread")
		if err != nil {
			t.Fatal(err)
		}
		clear(leaders)
		for _, p := range md.Topics["spread"].Partitions {
			if p.Leader >= 0 {
				leaders[p.Leader] = true
			}
		}
		if len(md.Topics["spread"].Partitions) == 3 && len(leaders) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(leaders) < 2 {
		t.Fatalf("leaders %v: want the partitions led by more than one broker", leaders)
	}
	for p := range int32(3) {
		for range 4 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Key: []byte(fmt.Sprintf("key-of-%d", p))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := newClient(t, nodes[0].HTTPAddr())
	_, body := c.get("/")
	for _, n := range nodes {
		mustContain(t, body, `href="http://`+n.HTTPAddr()+`/"`)
	}
	_, body = c.get("/topics/spread")
	mustContain(t, body, "key-of-0: 4 (100.0%)", "key-of-1: 4 (100.0%)", "key-of-2: 4 (100.0%)")
}
