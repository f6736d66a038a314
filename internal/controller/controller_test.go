package controller

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestAlterBrokerConfigPersists: broker config changes are committed per
// level, published to subscribers, survive a reopen of the metadata log,
// and are not committed when validation fails or validate-only is asked.
func TestAlterBrokerConfigPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := openActive(t, dir)
	ctx := context.Background()
	set := func(k, v string) func(map[string]string) (map[string]string, error) {
		return func(cur map[string]string) (map[string]string, error) { cur[k] = v; return cur, nil }
	}
	one := int32(1)
	if err := c.AlterBrokerConfig(ctx, nil, false, set("log.retention.ms", "1000")); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterBrokerConfig(ctx, &one, false, set("log.roll.ms", "5")); err != nil {
		t.Fatal(err)
	}
	offset := c.Image().Offset
	if err := c.AlterBrokerConfig(ctx, &one, true, set("log.roll.ms", "6")); err != nil {
		t.Fatal(err)
	}
	if err := c.AlterBrokerConfig(ctx, &one, false, set("log.roll.ms", "5")); err != nil { // no change
		t.Fatal(err)
	}
	err := c.AlterBrokerConfig(ctx, nil, false, func(map[string]string) (map[string]string, error) { return nil, errors.New("bad value") })
	if !errors.Is(err, kerr.InvalidRequest) {
		t.Errorf("refused alter: %v, want INVALID_REQUEST", err)
	}
	if got := c.Image().Offset; got != offset {
		t.Errorf("offset %d after validate-only, no-op and refused alters, want %d", got, offset)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c = openActive(t, dir)
	defer c.Close()
	d, o := c.Image().DynamicBrokerConfigs(1)
	if !maps.Equal(d, map[string]string{"log.retention.ms": "1000"}) || !maps.Equal(o, map[string]string{"log.roll.ms": "5"}) {
		t.Errorf("after reopen: default %v, node 1 %v", d, o)
	}
}

// openActive opens a one-node quorum in dir and waits until it decides.
func openActive(t *testing.T, dir string) *Controller {
	t.Helper()
	c, err := Open(Config{DataDir: dir, NodeID: 1, ClusterID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.WaitActive(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}
