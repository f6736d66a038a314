//go:build external

package external

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKcatGroup: kcat's balanced consumer (-G, librdkafka's group client)
// joins a group, reads every record of a 3-partition topic, commits on
// close, and what it committed is each partition's end offset, read back
// with kadm. A second kcat in the same group then reads nothing new.
func TestKcatGroup(t *testing.T) {
	addr := startBroker(t, "group.initial.rebalance.delay.ms=0").Addr()
	const topic, group = "kcat-group", "kcat-g"
	createTopic(t, addr, topic, 3)
	var recs []*kgo.Record
	var want []string
	for i := range 30 {
		v := fmt.Sprintf("value-%02d", i)
		recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 3), Value: []byte(v)})
		want = append(want, v)
	}
	produce(t, addr, recs)

	consume := func() []string {
		out := kcat(t, addr, nil, "-G", group, "-e", "-q",
			"-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000",
			"-X", "fetch.wait.max.ms=10", "-f", "%s\n", topic)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l != "" {
				got = append(got, l)
			}
		}
		slices.Sort(got)
		return got
	}
	if got := consume(); !slices.Equal(got, want) {
		t.Fatalf("kcat -G read %d records %v, want %v", len(got), got, want)
	}

	adm := kadm.NewClient(client(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 3; p++ {
		o, ok := offs.Lookup(topic, p)
		if !ok || o.Err != nil || o.At != 10 {
			t.Fatalf("partition %d: committed %+v (found %v), want 10", p, o, ok)
		}
	}
	if got := consume(); len(got) != 0 {
		t.Fatalf("a second kcat in the group re-read %v; the group's commits should have moved it to the end", got)
	}
}
