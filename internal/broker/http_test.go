package broker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/samsa-kafka/samsa/internal/config"
)

func startTestBroker(t *testing.T, sets ...string) (*Broker, error) {
	t.Helper()
	cfg, err := config.Load("", append([]string{"listeners=127.0.0.1:0", "log.dirs=" + t.TempDir()}, sets...), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = b.Shutdown(ctx)
		})
	}
	return b, err
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The health endpoints answer as Kubernetes probes expect, and the HTTP
// listener goes away with the broker.
func TestHealthEndpoints(t *testing.T) {
	b, err := startTestBroker(t, "samsa.http.listen=127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + b.HTTPAddr()
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	// Start returns once the one-node cluster is ready; its leaderships
	// are applied by then or moments later.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, base+"/readyz")
		if code == 200 && body == "ready\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %q", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("/healthz answered after Shutdown")
	}
}

// An HTTP address the operator chose must bind; an empty one means none.
func TestHTTPListenConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := startTestBroker(t, "samsa.http.listen="+ln.Addr().String()); err == nil ||
		!strings.Contains(err.Error(), "samsa.http.listen") {
		t.Fatalf("start with a taken HTTP address: %v", err)
	}
	b, err := startTestBroker(t, "samsa.http.listen=")
	if err != nil {
		t.Fatal(err)
	}
	if b.HTTPAddr() != "" {
		t.Fatalf("HTTPAddr with no listener: %q", b.HTTPAddr())
	}
	if _, err := config.Load("", []string{"samsa.http.listen=nohostport"}, nil); err == nil {
		t.Fatal("a malformed samsa.http.listen was accepted")
	}
}
