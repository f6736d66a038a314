package quorum

import (
	"net/http"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/test/cluster"
)

// TestReadyzDedicatedRoles: a controller-only node and a broker-only node
// both become ready, and stay ready for well over the 3 s session timeout
// (readiness now also watches controller contact and metadata progress,
// which must not fault a healthy node of either role); once the only
// controller stops, the broker is no longer ready.
func TestReadyzDedicatedRoles(t *testing.T) {
	t.Parallel()
	ports := freePorts(t, 3)
	ctl, web := ports[:1], ports[1:]
	controller := cluster.StartProcess(t, t.TempDir(), append(append([]string{"--node-id", "1", "--process-roles", "controller",
		"--controller-listen", ctl[0], "--http", web[0]}, quorumArgs(ctl)...), sessionSets...)...)
	broker := cluster.StartProcess(t, t.TempDir(), append(append([]string{"--node-id", "2", "--process-roles", "broker",
		"--http", web[1]}, quorumArgs(ctl)...), sessionSets...)...)
	logOnFailure(t, []*cluster.Process{controller, broker})

	for i, w := range web {
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			code, body := get(t, "http://"+w+"/readyz")
			if code == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d not ready: %d %q", i+1, code, body)
			}
		}
	}
	// Ready throughout three session timeouts.
	for end := time.Now().Add(9 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		for i, w := range web {
			if code, body := get(t, "http://"+w+"/readyz"); code != http.StatusOK {
				t.Fatalf("node %d stopped being ready: %d %q", i+1, code, body)
			}
		}
	}
	controller.Kill()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := get(t, "http://"+web[1]+"/readyz")
		if code == http.StatusServiceUnavailable {
			t.Logf("broker without its controller: %s", body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker is still ready 15 s after its only controller died: %d %q", code, body)
		}
	}
}
