package config

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestApplyIncrementalBroker(t *testing.T) {
	t.Parallel()
	s := func(v string) *string { return &v }
	cases := []struct {
		name      string
		cur       map[string]string
		ops       []AlterOp
		perBroker bool
		want      map[string]string
		wantErr   string // substring; "" for success
		invalidRq bool   // error matches ErrInvalidRequest
	}{
		{name: "set", ops: []AlterOp{{Name: "log.retention.ms", Op: OpSet, Value: s(" 1000 ")}},
			want: map[string]string{"log.retention.ms": "1000"}},
		{name: "delete", cur: map[string]string{"log.retention.ms": "1000", "log.roll.ms": "5"},
			ops: []AlterOp{{Name: "log.retention.ms", Op: OpDelete}}, want: map[string]string{"log.roll.ms": "5"}},
		{name: "append from default", ops: []AlterOp{{Name: "log.cleanup.policy", Op: OpAppend, Value: s("compact")}},
			want: map[string]string{"log.cleanup.policy": "delete,compact"}},
		{name: "subtract from current", cur: map[string]string{"log.cleanup.policy": "compact,delete"},
			ops: []AlterOp{{Name: "log.cleanup.policy", Op: OpSubtract, Value: s("delete")}}, want: map[string]string{"log.cleanup.policy": "compact"}},
		{name: "read-only", ops: []AlterOp{{Name: "log.dirs", Op: OpSet, Value: s("/x")}}, perBroker: true,
			wantErr: "config: log.dirs: cannot be updated dynamically (read-only)"},
		{name: "unknown", ops: []AlterOp{{Name: "log.retention.mss", Op: OpSet, Value: s("1")}},
			wantErr: "config: log.retention.mss: unknown broker config"},
		{name: "bad value", ops: []AlterOp{{Name: "log.segment.bytes", Op: OpSet, Value: s("10")}},
			wantErr: `config: log.segment.bytes="10": must be at least 14`},
		{name: "append to non-list", ops: []AlterOp{{Name: "log.segment.bytes", Op: OpAppend, Value: s("10")}},
			wantErr: "cannot APPEND: the config is a int"},
		{name: "named twice", ops: []AlterOp{{Name: "log.roll.ms", Op: OpSet, Value: s("1")}, {Name: "log.roll.ms", Op: OpDelete}},
			wantErr: "named twice", invalidRq: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			before := maps.Clone(c.cur)
			got, err := ApplyIncrementalBroker(c.cur, c.ops, c.perBroker)
			if !maps.Equal(c.cur, before) {
				t.Errorf("current modified: %v", c.cur)
			}
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if errors.Is(err, ErrInvalidRequest) != c.invalidRq {
					t.Errorf("errors.Is(ErrInvalidRequest) = %v", !c.invalidRq)
				}
				return
			}
			if err != nil || !maps.Equal(got, c.want) {
				t.Errorf("got %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

func TestDescribeClusterDefaults(t *testing.T) {
	t.Parallel()
	b, err := Load("", []string{"log.retention.bytes=5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := b.WithDynamic(map[string]string{"log.roll.ms": "1000"}, map[string]string{"log.roll.ms": "2000"})
	if err != nil {
		t.Fatal(err)
	}
	es := d.DescribeClusterDefaults(nil, true, false)
	if len(es) != 1 || es[0].Name != "log.roll.ms" || *es[0].Value != "1000" || es[0].Source != SourceDynamicDefault ||
		len(es[0].Synonyms) != 1 || es[0].Synonyms[0].Source != SourceDynamicDefault {
		t.Errorf("got %+v", es)
	}
	if es := b.DescribeClusterDefaults(nil, true, false); len(es) != 0 {
		t.Errorf("static-only broker: got %+v, want none", es)
	}
	if got := d.ResolveTopic(nil).SegmentMs; got != 2000 {
		t.Errorf("segment.ms %d, want the per-broker 2000", got)
	}
}

func TestValidateBrokerConfigPerBrokerLevel(t *testing.T) {
	t.Parallel()
	for _, def := range brokerDefs {
		if def.Mode != PerBroker {
			continue
		}
		if err := ValidateBrokerConfig(def.Name, def.Default, false); err == nil || !strings.Contains(err.Error(), "cluster-default") {
			t.Errorf("%s at the cluster level: %v", def.Name, err)
		}
	}
}
