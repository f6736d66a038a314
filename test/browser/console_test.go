//go:build browser

// Package browser drives samsa's web console in a real headless Chromium
// (Debian's chromium package; CHROMIUM names another binary), through
// chromedp: what an operator does, clicked and typed, against an
// in-process broker. Screenshots go to $SAMSA_ARTIFACTS (default a
// temporary directory, named in the log).
package browser

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color/palette"
	"image/draw"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// docsImg, set, copies the screenshots the docs show into docs/img,
// reduced to 256 colours to keep the repository small:
// go test -tags browser ./test/browser -docs-img
var docsImg = flag.Bool("docs-img", false, "copy the documented screenshots into docs/img")

// docScreenshots are the screenshots docs/console.md shows.
var docScreenshots = map[string]bool{"topic": true, "messages": true, "config-error": true,
	"group-lag": true, "under-replicated": true}

// browser is one headless Chromium tab on the console at base.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
}

func newBrowser(t *testing.T, httpAddr string) *browser {
	t.Helper()
	exec := os.Getenv("CHROMIUM")
	if exec == "" {
		exec = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exec); err != nil {
		t.Fatalf("no Chromium at %s (install Debian's chromium or set CHROMIUM): %v", exec, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exec), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", "en-US"))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	// The first run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("SAMSA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "browser", t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return &browser{t: t, ctx: ctx, base: "http://" + httpAddr, artifacts: dir}
}

// do runs steps with a deadline.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// fill sets the form fields (CSS selector to value) and clicks submit,
// then waits for the page the form leads to (it shows wait). The page
// being left is marked first: the one it leads to may show wait too (a
// second produce), so wait alone cannot tell them apart.
func (b *browser) fill(fields [][2]string, submit, wait string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for _, f := range fields {
		steps = append(steps, chromedp.SetValue(chromedp.CSS(f[0]), f[1]))
	}
	b.do(steps...)
	eval[bool](b, `window.samsaLeaving = true`)
	b.do(chromedp.Click(chromedp.CSS(submit)))
	b.waitFor("the page after "+submit, `window.samsaLeaving === undefined && document.readyState === "complete"`, 30*time.Second)
	b.do(chromedp.WaitVisible(chromedp.CSS(wait)))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return v
}

// waitFor polls cond (a JavaScript expression) until it is true, for at
// most timeout; what, with the page's state, explains a failure.
func (b *browser) waitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		// A page being replaced cannot evaluate: that is a "not yet".
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("browser: %s: not within %s", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the viewport as a PNG under the artifacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.artifacts, name+".png"), shot, 0o644); err != nil {
		b.t.Error(err)
	}
	if *docsImg && docScreenshots[name] {
		small, err := paletted(shot)
		if err == nil {
			err = os.WriteFile(filepath.Join("..", "..", "docs", "img", "console-"+name+".png"), small, 0o644)
		}
		if err != nil {
			b.t.Errorf("docs image %s: %v", name, err)
		}
	}
}

// paletted re-encodes a PNG in 256 colours (a screenshot of a page of
// flat colours loses little).
func paletted(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	p := image.NewPaletted(img.Bounds(), palette.Plan9)
	draw.Draw(p, p.Bounds(), img, img.Bounds().Min, draw.Src)
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// TestConsoleInBrowser: create a topic, produce a message from the
// console, find it by offset and by value, watch a group's lag rise while
// a producer writes and fall while a consumer reads (on the plot and in
// the table), and see a bad config value refused.
func TestConsoleInBrowser(t *testing.T) {
	br := cluster.Start(t, "samsa.http.listen=127.0.0.1:0", "samsa.console.sample.interval.ms=250", "num.partitions=1")
	b := newBrowser(t, br.HTTPAddr())

	// Create a topic.
	b.open("/topics")
	b.fill([][2]string{{"#create-name", "orders"}, {"#create-partitions", "3"}}, "#create-submit", "#flash-ok")
	if got := b.text("#flash-ok"); got != "Created topic orders with 3 partitions." {
		t.Fatalf("create: %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll("#partitions tr").length`); n != 4 {
		t.Fatalf("partitions table has %d rows, want a header and 3", n)
	}

	// Produce a message from the console.
	b.open("/topics/orders/messages")
	b.fill([][2]string{{"#produce-partition", "2"}, {"#produce-key", "customer-7"},
		{"#produce-value", `{"order":1001,"item":"kettle"}`}, {"#produce-headers", "trace: abc123"}},
		"#produce-submit", "#flash-ok")
	if got := b.text("#flash-ok"); got != "Produced to partition 2 at offset 0." {
		t.Fatalf("produce: %q", got)
	}
	// The redirect shows it at its offset.
	if got := b.text("#messages"); !strings.Contains(got, "kettle") || !strings.Contains(got, "trace: abc123") {
		t.Fatalf("produced message not shown: %q", got)
	}
	// Two more, to find one among others.
	for _, item := range []string{"teapot", "toaster"} {
		b.fill([][2]string{{"#produce-partition", "2"}, {"#produce-key", "customer-8"}, {"#produce-value", `{"order":1002,"item":"` + item + `"}`}},
			"#produce-submit", "#flash-ok")
	}

	// By offset: partition 2 from offset 1 shows the second and third.
	b.open("/topics/orders/messages")
	b.do(chromedp.SetValue(chromedp.CSS("#browse-partition"), "2"), chromedp.SetValue(chromedp.CSS("#browse-from"), "offset"))
	b.fill([][2]string{{"#browse-offset", "1"}}, "#browse-submit", "#browse-summary")
	if got := b.text("#browse-summary"); !strings.HasPrefix(got, "2 records shown, 2 read; the end of the log.") {
		t.Fatalf("by offset: %q", got)
	}
	if rows := b.text("#messages"); !strings.Contains(rows, "teapot") || strings.Contains(rows, "kettle") {
		t.Fatalf("by offset 1: %q", rows)
	}
	// By value, all partitions, from the start, rendered as JSON.
	b.open("/topics/orders/messages")
	b.do(chromedp.SetValue(chromedp.CSS("#browse-render"), "json"))
	b.fill([][2]string{{"#browse-value", "kettle"}}, "#browse-submit", "#browse-summary")
	if got := b.text("#browse-summary"); !strings.HasPrefix(got, "1 records shown, 3 read") {
		t.Fatalf("by value: %q", got)
	}
	if rows := b.text("#messages"); !strings.Contains(rows, `"item": "kettle"`) || strings.Contains(rows, "teapot") {
		t.Fatalf("by value: %q", rows)
	}
	b.screenshot("messages")

	// A config edit with a bad value shows the broker's validation error.
	b.open("/topics/orders")
	b.fill([][2]string{{"#config-name", "retention.ms"}, {"#config-value", "-5"}}, "#config-submit", "#flash-err")
	if got := b.text("#flash-err"); !strings.Contains(got, "retention.ms=-5 refused") || !strings.Contains(got, "INVALID_CONFIG") {
		t.Fatalf("bad config: %q", got)
	}
	b.screenshot("config-error")
	b.fill([][2]string{{"#config-name", "retention.ms"}, {"#config-value", "3600000"}}, "#config-submit", "#flash-ok")
	if got := b.text("#flash-ok"); got != "Set retention.ms=3600000." {
		t.Fatalf("good config: %q", got)
	}

	lagRiseAndFall(t, b, br.Addr())

	b.open("/")
	b.waitFor("overview shows the broker", `document.querySelectorAll("#brokers tr").length == 2`, 10*time.Second)
	b.screenshot("overview")
	// Skewed keys: one customer makes most of the traffic, and the
	// topic page names it among its partition's top keys.
	hotKeys(t, br.Addr(), "orders")
	b.open("/topics/orders")
	b.waitFor("the hot key on the topic page", `document.getElementById("hot-partitions").textContent.indexOf("customer-7:") >= 0`, 20*time.Second)
	b.screenshot("topic")
}

// hotKeys produces to topic one record a batch (the sketch samples
// batches), 60 % of them keyed customer-7.
func hotKeys(t *testing.T, addr, topic string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 320 {
		key := "customer-7"
		if i%5 >= 3 {
			key = fmt.Sprintf("customer-%d", 100+i%40)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte(`{"order":` + strconv.Itoa(i) + `}`)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// lagRiseAndFall produces to a group's topic with a franz-go producer and
// watches the group page's lag table and plot (refreshed by the page's
// script) rise; then a consumer of the group reads, and both fall to 0.
func lagRiseAndFall(t *testing.T, b *browser, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("lagging"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "lagging"); err != nil {
		t.Fatal(err)
	}
	// The group starts with its offsets at 0 and no members.
	offsets := kadm.Offsets{}
	for p := range int32(2) {
		offsets.Add(kadm.Offset{Topic: "lagging", Partition: p, At: 0, LeaderEpoch: -1})
	}
	if resps, err := adm.CommitOffsets(ctx, "billing", offsets); err != nil || resps.Error() != nil {
		t.Fatalf("commit: %v %v", err, resps.Error())
	}
	b.open("/groups/billing")
	totalLag := `parseInt(document.getElementById("total-lag").textContent, 10)`
	plotLast := `parseFloat(document.querySelector("#plot-lag polyline").getAttribute("data-last"))`
	b.waitFor("lag 0 at first", totalLag+` == 0`, 10*time.Second)

	// Produce in three steps; the table and the plot follow each.
	const step = 100
	for i := 1; i <= 3; i++ {
		var rs []*kgo.Record
		for j := range step {
			rs = append(rs, &kgo.Record{Key: []byte(strconv.Itoa(j)), Value: []byte(fmt.Sprintf("payment %d/%d", i, j))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		b.waitFor(fmt.Sprintf("lag %d in the table", i*step), fmt.Sprintf("%s == %d", totalLag, i*step), 20*time.Second)
		b.waitFor(fmt.Sprintf("lag %d on the plot", i*step), fmt.Sprintf("document.querySelector('#plot-lag polyline') && %s == %d", plotLast, i*step), 20*time.Second)
	}
	b.screenshot("group-lag-risen")

	// A consumer of the group reads everything; the lag falls to 0.
	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("lagging"),
		kgo.AutoCommitInterval(200*time.Millisecond), kgo.FetchMaxBytes(1024), kgo.FetchMaxPartitionBytes(512))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	done := make(chan struct{})
	consumed := 0
	go func() {
		defer close(done)
		for consumed < 3*step && ctx.Err() == nil {
			fs := consumer.PollFetches(ctx)
			consumed += fs.NumRecords()
			// Slowly, so the plot shows the fall.
			time.Sleep(50 * time.Millisecond)
		}
		// Autocommit commits what earlier polls returned; the last
		// poll's records are committed here, as a consumer that is
		// done would on close.
		if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
			t.Errorf("commit: %v", err)
		}
	}()
	b.waitFor("lag falling in the table", fmt.Sprintf("%s < %d", totalLag, 3*step), 30*time.Second)
	b.waitFor("lag 0 in the table", totalLag+` == 0`, 60*time.Second)
	b.waitFor("lag 0 on the plot", plotLast+` == 0`, 20*time.Second)
	<-done
	if !strings.Contains(b.text("#group-state"), "Stable") {
		b.open("/groups/billing")
	}
	// The plot has risen and fallen: its maximum is the peak.
	peak := eval[bool](b, `(function(){var ys=document.querySelector("#plot-lag polyline").getAttribute("points").trim().split(" ").map(function(p){return parseFloat(p.split(",")[1])}); return Math.min.apply(null, ys) < Math.max.apply(null, ys)})()`)
	if !peak {
		t.Fatal("the lag plot is flat")
	}
	b.screenshot("group-lag")
}

// TestUnderReplicatedInBrowser: on a three-node cluster of samsa
// processes, a broker killed (SIGKILL) shows as under-replicated
// partitions, highlighted on another broker's console overview, within
// 15 s.
func TestUnderReplicatedInBrowser(t *testing.T) {
	ports := freePorts(t, 6)
	ctl, web := ports[:3], ports[3:]
	var voters []string
	for i, a := range ctl {
		voters = append(voters, fmt.Sprintf("%d@%s", i+1, a))
	}
	nodes := make([]*cluster.Process, 3)
	for i := range nodes {
		nodes[i] = cluster.StartProcess(t, t.TempDir(), "--node-id", fmt.Sprint(i+1), "--controller-listen", ctl[i],
			"--controller-quorum", strings.Join(voters, ","), "--http", web[i],
			// Quick fencing and ISR shrinking, as an operator of a
			// small cluster might set them.
			"--set", "broker.session.timeout.ms=3000", "--set", "broker.heartbeat.interval.ms=500",
			"--set", "replica.lag.time.max.ms=3000", "--set", "samsa.console.sample.interval.ms=500")
	}
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range nodes {
				t.Logf("node %d log:\n%s", i+1, n.Log())
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Addr, nodes[1].Addr, nodes[2].Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Every broker must be registered and unfenced to take a replica.
	for {
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 6, 3, nil, "replicated")
		if err == nil && resp.Err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("create: %v %v", err, resp.Err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b := newBrowser(t, web[0])
	b.open("/")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		b.open("/")
		if eval[bool](b, `document.getElementById("no-problems") != null && document.querySelectorAll("#brokers .badge.ok").length == 3`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not settle:\n%s", b.text("main"))
		}
	}

	nodes[2].Kill()
	killed := time.Now()
	// The page is read again every half second, as an operator would
	// reload it; the highlight must come within 15 s. The survivors'
	// /metrics say the same: their leaders count all 6 partitions
	// under-replicated.
	urpMetric := false
	for {
		if !urpMetric {
			var sum float64
			for _, w := range web[:2] {
				sum += gaugeValue(t, w, "samsa_under_replicated_partitions")
			}
			if urpMetric = sum == 6; urpMetric {
				t.Logf("samsa_under_replicated_partitions 6 on /metrics %s after the kill", time.Since(killed).Round(100*time.Millisecond))
			}
		}
		if urpMetric {
			b.open("/")
			if eval[bool](b, `document.querySelectorAll("#problems tr.warn").length == 6 && document.getElementById("urp-card").classList.contains("bad")`) {
				break
			}
		}
		if time.Since(killed) > 15*time.Second {
			b.open("/")
			b.screenshot("urp-missing")
			if !urpMetric {
				t.Fatal("samsa_under_replicated_partitions on the survivors' /metrics did not sum to 6 within 15 s")
			}
			t.Fatalf("under-replicated partitions not highlighted within 15 s:\n%s", b.text("main"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("under-replicated partitions highlighted %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	if got := b.text("#urp-count"); got != "6" {
		t.Fatalf("under-replicated count %q, want 6", got)
	}
	// The killed broker is fenced once its session expires.
	for !eval[bool](b, `document.querySelectorAll("#brokers .badge.bad").length == 1`) {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("the killed broker is not shown fenced:\n%s", b.text("#brokers"))
		}
		time.Sleep(500 * time.Millisecond)
		b.open("/")
	}
	b.screenshot("under-replicated")
}

// gaugeValue reads one unlabelled sample from addr's /metrics (0 when
// absent or unreachable).
func gaugeValue(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			return f
		}
	}
	return 0
}

// freePorts returns n distinct loopback addresses with ports the OS just
// handed out. Each listener stays open until all n are picked: a port
// closed at once can be handed out again by the next Listen.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().String())
	}
	return out
}
