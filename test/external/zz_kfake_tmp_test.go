//go:build external

package external

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTmpKfakeKcat(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0), kfake.SeedTopics(1, "zt"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	for _, key := range []int16{0, 10} {
		resp, _ := kmsg.NewPtrApiVersionsRequest().RequestWith(context.Background(), client(t, addr))
		for _, k := range resp.ApiKeys {
			if k.ApiKey == key {
				t.Logf("kfake key %d: %d-%d", key, k.MinVersion, k.MaxVersion)
			}
		}
	}
	for _, z := range []string{"gzip", "snappy", "lz4", "zstd"} {
		cmd := exec.Command("kcat", "-b", addr, "-P", "-t", "zt", "-p", "0", "-z", z, "-X", "debug=msg")
		cmd.Stdin = strings.NewReader("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n")
		out, _ := cmd.CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "compress") || strings.Contains(l, "Produce MessageSet") {
				t.Log(z, l[strings.Index(l, "zt ["):])
			}
		}
	}
}
