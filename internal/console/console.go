// Package console is samsa's built-in web console: server-rendered HTML
// pages (html/template, assets embedded) and a small JSON API, served on
// the broker's HTTP listener. For everything cluster-wide — topics,
// partitions, configs, groups, messages — it is a Kafka client of the
// cluster (franz-go's kgo and kadm, bootstrapped at its own broker), so it
// shows what any client would see and a mutation goes through the same
// validation as one from kafka-topics. What no Kafka API tells — the
// traffic through each partition and its hot keys — each broker serves
// for itself (/api/v1/local/traffic), and a console gathers the answers of
// every live broker.
//
// Reading works with JavaScript disabled; a few lines of script refresh
// the plots and lag tables in place. The plots are SVG drawn here, on the
// server. Nothing is fetched from outside the broker.
package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/samsa-kafka/samsa/internal/hotkeys"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Options configure a console.
type Options struct {
	// NodeID is this broker's id.
	NodeID int32
	// Bootstrap is this broker's client listener (host:port).
	Bootstrap []string
	// ReadOnly refuses every mutation with 403; ReadOnlyReason says why
	// on the page.
	ReadOnly       bool
	ReadOnlyReason string
	// Cluster is this node's view of the brokers (fenced ones included,
	// with their HTTP listeners), from the metadata image.
	Cluster func() ClusterInfo
	// Local is this broker's own traffic, per partition it holds; with
	// keys, the hot keys of the partitions of topic it leads ("" for
	// every topic, keys only with a topic).
	Local func(topic string, keys bool) LocalTraffic
	// SampleInterval is how often the plots' time series are sampled
	// (default 10s); Points how many samples each keeps (default 360:
	// an hour at 10s).
	SampleInterval time.Duration
	Points         int
	// MaxGroups bounds how many consumer groups' lag is sampled (default
	// 100; the first by name).
	MaxGroups int
	Logger    *slog.Logger
	// KgoOpts are extra options for the console's Kafka clients (tests).
	KgoOpts []kgo.Opt
}

// ClusterInfo is the metadata image's view of the brokers.
type ClusterInfo struct {
	ClusterID      string
	MetadataOffset int64
	Brokers        []BrokerInfo // by id
}

// BrokerInfo is one registered broker.
type BrokerInfo struct {
	ID           int32
	Host         string
	Port         int32
	Rack         string
	Fenced       bool
	ShuttingDown bool
	HTTP         string // its HTTP listener, "" if none is known
}

// LocalTraffic is one broker's answer to /api/v1/local/traffic.
type LocalTraffic struct {
	Node       int32              `json:"node"`
	Partitions []PartitionTraffic `json:"partitions"`
}

// PartitionTraffic is one local replica's counters (partition.Traffic),
// and its hot keys when asked for and this broker leads it.
type PartitionTraffic struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Leader    bool            `json:"leader"`
	BytesIn   uint64          `json:"bytesIn"`
	RecordsIn uint64          `json:"recordsIn"`
	BytesOut  uint64          `json:"bytesOut"`
	KeysTotal uint64          `json:"keysTotal,omitempty"` // keys counted by the sketch (sampled, weighted)
	NullKeys  uint64          `json:"nullKeys,omitempty"`
	TopKeys   []hotkeys.Count `json:"topKeys,omitempty"`
}

// Console is the web console; it is an http.Handler. Close stops its
// sampler and clients.
type Console struct {
	o     Options
	log   *slog.Logger
	cl    *kgo.Client
	adm   *kadm.Client
	mux   *http.ServeMux
	pages *template.Template
	csrf  string
	peers *http.Client
	stats *stats

	// base is cancelled by Close, ending what the sampler asks.
	base       context.Context
	cancelBase context.CancelFunc
	stop       chan struct{}
	wg         sync.WaitGroup
	once       sync.Once
}

// New starts a console: its Kafka client (connecting lazily) and its
// sampler.
func New(o Options) (*Console, error) {
	if o.SampleInterval <= 0 {
		o.SampleInterval = 10 * time.Second
	}
	if o.Points <= 0 {
		o.Points = 360
	}
	if o.MaxGroups <= 0 {
		o.MaxGroups = 100
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(o.Bootstrap...),
		kgo.ClientID("samsa-console"),
		kgo.RecordPartitioner(partitioner()),
		kgo.ProducerLinger(0),
		kgo.RequestTimeoutOverhead(5 * time.Second),
	}, o.KgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	pages, err := parseTemplates()
	if err != nil {
		cl.Close()
		return nil, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		cl.Close()
		return nil, fmt.Errorf("console: %w", err)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("samsa console csrf"))
	c := &Console{
		o: o, log: o.Logger, cl: cl, adm: kadm.NewClient(cl), pages: pages,
		csrf:  hex.EncodeToString(mac.Sum(nil)),
		peers: &http.Client{Timeout: 3 * time.Second},
		stats: newStats(o.Points),
		stop:  make(chan struct{}),
	}
	c.base, c.cancelBase = context.WithCancel(context.Background())
	c.routes()
	c.wg.Add(1)
	go c.sample()
	return c, nil
}

// Close stops the sampler and closes the Kafka clients.
func (c *Console) Close() {
	c.once.Do(func() {
		close(c.stop)
		c.cancelBase()
		c.wg.Wait()
		c.cl.Close()
	})
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.mux.ServeHTTP(w, r) }

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /{$}", c.overview)
	m.HandleFunc("GET /topics", c.topics)
	m.HandleFunc("GET /topics/{topic}", c.topic)
	m.HandleFunc("GET /topics/{topic}/messages", c.messages)
	m.HandleFunc("GET /groups", c.groups)
	m.HandleFunc("GET /groups/{group}", c.group)
	m.HandleFunc("GET /api/v1/local/traffic", c.localTraffic)
	m.HandleFunc("GET /api/v1/topics/{topic}/series", c.topicSeries)
	m.HandleFunc("GET /api/v1/groups/{group}/series", c.groupSeries)
	m.HandleFunc("POST /topics", c.mutation(c.createTopic))
	m.HandleFunc("POST /topics/{topic}/delete", c.mutation(c.deleteTopic))
	m.HandleFunc("POST /topics/{topic}/partitions", c.mutation(c.addPartitions))
	m.HandleFunc("POST /topics/{topic}/configs", c.mutation(c.alterConfig))
	m.HandleFunc("POST /topics/{topic}/produce", c.mutation(c.produce))
	m.HandleFunc("POST /groups/{group}/reset", c.mutation(c.resetOffsets))
	c.mux = m
}

// requestTimeout bounds what one page asks of the cluster.
const requestTimeout = 10 * time.Second

func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), requestTimeout)
}

// page is what every template gets besides its own data.
type page struct {
	Title    string
	Nav      string
	NodeID   int32
	ReadOnly bool
	Reason   string
	CSRF     string
	OK, Err  string // the outcome of the mutation that redirected here
	Data     any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	p := page{Title: title, Nav: nav, NodeID: c.o.NodeID, ReadOnly: c.o.ReadOnly, Reason: c.o.ReadOnlyReason,
		CSRF: c.csrf, OK: r.URL.Query().Get("ok"), Err: r.URL.Query().Get("err"), Data: data}
	// A fragment (the part a script refreshes in place) is rendered
	// alone, as its own template.
	if f := r.URL.Query().Get("fragment"); f != "" {
		name = name + "-" + f
		if c.pages.Lookup(name) == nil {
			http.Error(w, "no such fragment", http.StatusNotFound)
			return
		}
	}
	var b strings.Builder
	if err := c.pages.ExecuteTemplate(&b, name, p); err != nil {
		c.log.Warn("console: template", "name", name, "err", err)
		http.Error(w, "console: template "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	fmt.Fprint(w, b.String())
}

// fail renders an error page with the status a failure of the cluster
// request maps to.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	c.render(w, r, status, "error", "Error", "", err.Error())
}

// mutation wraps a handler that changes the cluster: refused with 403 when
// the console is read-only, and only for a form that carries this
// console's CSRF token and, when the browser says where it comes from,
// from this console's own origin.
func (c *Console) mutation(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.o.ReadOnly {
			c.render(w, r, http.StatusForbidden, "error", "Read-only", "",
				"This console is read-only: "+c.o.ReadOnlyReason+". Nothing was changed.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, http.StatusBadRequest, err)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
			u, err := url.Parse(origin)
			if err != nil || u.Host != r.Host {
				c.render(w, r, http.StatusForbidden, "error", "Forbidden", "", "The form was sent from another site ("+origin+"). Nothing was changed.")
				return
			}
		}
		if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(c.csrf)) {
			c.render(w, r, http.StatusForbidden, "error", "Forbidden", "", "The form's token is missing or stale (reload the page). Nothing was changed.")
			return
		}
		h(w, r)
	}
}

// redirect answers a mutation with a redirect to the page showing its
// outcome (POST-redirect-GET, so a reload does not repeat it).
func redirect(w http.ResponseWriter, r *http.Request, to string, ok string, err error) {
	q := url.Values{}
	if ok != "" {
		q.Set("ok", ok)
	}
	if err != nil {
		q.Set("err", err.Error())
	}
	to, frag, hasFrag := strings.Cut(to, "#")
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	if len(q) > 0 {
		to += sep + q.Encode()
	}
	if hasFrag {
		to += "#" + frag
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// kafkaErr describes a Kafka error with the broker's message when it sent
// one (the validation error of a bad config value, say).
func kafkaErr(err error, msg *string) error {
	if err == nil {
		return nil
	}
	if msg != nil && *msg != "" && !strings.Contains(err.Error(), *msg) {
		return fmt.Errorf("%w: %s", err, *msg)
	}
	return err
}

var errNotFound = errors.New("not found")
