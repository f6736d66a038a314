package broker

import (
	"net"
	"testing"
)

// TestConsoleLoopback: the console takes changes only on a loopback
// listener (samsa has no authentication on HTTP yet).
func TestConsoleLoopback(t *testing.T) {
	for _, c := range []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9080", true}, {"127.8.0.1:9080", true}, {"[::1]:9080", true},
		{"0.0.0.0:9080", false}, {"[::]:9080", false}, {"10.1.2.3:9080", false},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLoopback(a); got != c.want {
			t.Errorf("isLoopback(%s) = %v, want %v", c.addr, got, c.want)
		}
	}
}

func TestSplitHostPort(t *testing.T) {
	host, port, err := splitHostPort("127.0.0.1:9080")
	if err != nil || host != "127.0.0.1" || port != 9080 {
		t.Fatalf("%q %d %v", host, port, err)
	}
	for _, bad := range []string{"127.0.0.1", "h:70000", "h:x"} {
		if _, _, err := splitHostPort(bad); err == nil {
			t.Errorf("splitHostPort(%q) accepted", bad)
		}
	}
}
