package api

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupConfigs: resource type 32 (GROUP). samsa's classic groups have
// no group configs: DescribeConfigs lists none at every version (for any
// group name, as Kafka does not ask that the group exist); an alteration
// that would set a config is INVALID_CONFIG, Kafka's message for a name
// that is no group config at all, samsa's for one of Kafka's (KIP-848,
// share and streams groups); one that leaves nothing set succeeds; the
// empty name is INVALID_REQUEST with Kafka's messages.
func TestGroupConfigs(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, t.TempDir())
	str := func(s string) *string { return &s }
	msg := func(m *string) string {
		if m == nil {
			return "<nil>"
		}
		return *m
	}
	const refused = "group config consumer.session.timeout.ms tunes KIP-848 consumer, share or streams groups, " +
		"which samsa does not serve: its classic groups have no group configs"

	t.Run("DescribeConfigs", func(t *testing.T) {
		for v := int16(1); v <= 4; v++ {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.IncludeSynonyms, req.IncludeDocumentation = true, true
			for _, c := range []struct {
				name  string
				names []string
			}{{"g", nil}, {"g", []string{"consumer.session.timeout.ms"}}, {"", nil}} {
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType, rr.ResourceName, rr.ConfigNames = resourceGroup, c.name, c.names
				req.Resources = append(req.Resources, rr)
			}
			resp := call[*kmsg.DescribeConfigsResponse](t, h, req, v)
			var got []string
			for _, r := range resp.Resources {
				got = append(got, fmt.Sprintf("%d %q %d %q %d", r.ResourceType, r.ResourceName, r.ErrorCode, msg(r.ErrorMessage), len(r.Configs)))
			}
			want := []string{`32 "g" 0 "<nil>" 0`, `32 "g" 0 "<nil>" 0`, `32 "" 42 "Group name must not be empty" 0`}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("v%d: %q\nwant %q", v, got, want)
			}
		}
	})

	t.Run("IncrementalAlterConfigs", func(t *testing.T) {
		for _, c := range []struct {
			what  string
			group string
			op    int8
			name  string
			value *string
			code  int16
			msg   string
		}{
			{"set a Kafka group config", "g", 0, "consumer.session.timeout.ms", str("50000"), 40, refused},
			{"set an unknown name", "g", 0, "nosuch", str("1"), 40, "Unknown group config name: nosuch"},
			{"append", "g", 2, "consumer.session.timeout.ms", str("1"), 40, refused},
			{"subtract", "g", 3, "consumer.session.timeout.ms", str("1"), 40, refused},
			{"delete", "g", 1, "consumer.session.timeout.ms", nil, 0, "<nil>"},
			{"delete an unknown name", "g", 1, "nosuch", nil, 0, "<nil>"},
			{"set to null", "g", 0, "consumer.session.timeout.ms", nil, 0, "<nil>"},
			{"unknown operation", "g", 7, "consumer.session.timeout.ms", str("1"), 42, "config consumer.session.timeout.ms: unknown operation"},
			{"no group name", "", 1, "consumer.session.timeout.ms", nil, 42, "Default group resources are not allowed."},
		} {
			for _, validateOnly := range []bool{true, false} {
				req := kmsg.NewPtrIncrementalAlterConfigsRequest()
				req.ValidateOnly = validateOnly
				rr := kmsg.NewIncrementalAlterConfigsRequestResource()
				rr.ResourceType, rr.ResourceName = resourceGroup, c.group
				rc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				rc.Name, rc.Op, rc.Value = c.name, kmsg.IncrementalAlterConfigOp(c.op), c.value
				rr.Configs = append(rr.Configs, rc)
				req.Resources = append(req.Resources, rr)
				resp := call[*kmsg.IncrementalAlterConfigsResponse](t, h, req, 1)
				r := resp.Resources[0]
				if r.ResourceType != resourceGroup || r.ResourceName != c.group || r.ErrorCode != c.code || msg(r.ErrorMessage) != c.msg {
					t.Errorf("%s (validate only %v): %d %q %d %q; want error %d %q", c.what, validateOnly,
						r.ResourceType, r.ResourceName, r.ErrorCode, msg(r.ErrorMessage), c.code, c.msg)
				}
			}
		}
	})

	t.Run("AlterConfigs", func(t *testing.T) {
		for _, c := range []struct {
			what    string
			group   string
			configs []kmsg.AlterConfigsRequestResourceConfig
			code    int16
			msg     string
		}{
			{"set a Kafka group config", "g", []kmsg.AlterConfigsRequestResourceConfig{{Name: "consumer.session.timeout.ms", Value: str("50000")}}, 40, refused},
			{"set an unknown name", "g", []kmsg.AlterConfigsRequestResourceConfig{{Name: "nosuch", Value: str("1")}}, 40, "Unknown group config name: nosuch"},
			{"no configs", "g", nil, 0, "<nil>"},
			{"a null value", "g", []kmsg.AlterConfigsRequestResourceConfig{{Name: "consumer.session.timeout.ms"}}, 0, "<nil>"},
			{"no group name", "", nil, 42, "Default group resources are not allowed."},
		} {
			req := kmsg.NewPtrAlterConfigsRequest()
			rr := kmsg.NewAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName, rr.Configs = resourceGroup, c.group, c.configs
			req.Resources = append(req.Resources, rr)
			resp := call[*kmsg.AlterConfigsResponse](t, h, req, 2)
			r := resp.Resources[0]
			if r.ResourceType != resourceGroup || r.ResourceName != c.group || r.ErrorCode != c.code || msg(r.ErrorMessage) != c.msg {
				t.Errorf("%s: %d %q %d %q; want error %d %q", c.what, r.ResourceType, r.ResourceName, r.ErrorCode, msg(r.ErrorMessage), c.code, c.msg)
			}
		}
	})
}
