package broker

import (
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/samsa-kafka/samsa/internal/console"
	"github.com/samsa-kafka/samsa/internal/hotkeys"
	"github.com/samsa-kafka/samsa/internal/partition"
)

// mountConsole serves the web console and its JSON API on mux; addr is
// the HTTP listener's address. A controller-only node has no console: it
// serves no clients to be a client of.
func (b *Broker) mountConsole(mux *http.ServeMux, addr net.Addr) {
	if b.replicas == nil {
		return
	}
	readOnly, reason := b.cfg.ConsoleReadOnly, "samsa.console.read.only (--console-read-only) is set"
	if !readOnly && !isLoopback(addr) {
		// samsa has no authentication on its HTTP listener yet: anyone
		// who reaches a non-loopback address could delete topics.
		readOnly, reason = true, "the HTTP listener "+addr.String()+" is not a loopback address and samsa has no authentication for it yet"
	}
	c, err := console.New(console.Options{
		NodeID:         b.cfg.NodeID,
		Bootstrap:      []string{net.JoinHostPort(b.host, strconv.Itoa(int(b.port)))},
		ReadOnly:       readOnly,
		ReadOnlyReason: reason,
		Cluster:        b.consoleCluster,
		Local:          b.localTraffic,
		SampleInterval: time.Duration(b.cfg.ConsoleSampleMs) * time.Millisecond,
		Logger:         b.log,
	})
	if err != nil {
		b.log.Warn("web console not started", "err", err)
		return
	}
	mux.Handle("/", c)
	go func() {
		<-b.stop
		c.Close()
	}()
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// httpEndpoint is the HTTP listener's address as other brokers reach it:
// an unspecified listen address (0.0.0.0, ::) is reached at this broker's
// advertised host. "" when there is no listener.
func (b *Broker) httpEndpoint() string {
	if b.httpLn == nil {
		return ""
	}
	tcp, ok := b.httpLn.Addr().(*net.TCPAddr)
	if !ok {
		return ""
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = b.host
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// splitHostPort splits a host:port with a port that fits a listener's.
func splitHostPort(s string) (string, uint16, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, err
	}
	return host, uint16(port), nil
}

// consoleCluster is this node's metadata view of the brokers.
func (b *Broker) consoleCluster() console.ClusterInfo {
	img := b.pub.Delivered()
	info := console.ClusterInfo{ClusterID: img.ClusterID, MetadataOffset: img.Offset}
	for _, id := range img.BrokerIDs() {
		br := img.Brokers[id]
		bi := console.BrokerInfo{ID: br.NodeID, Host: br.Host, Port: br.Port, Fenced: br.Fenced,
			ShuttingDown: br.ShuttingDown, HTTP: br.HTTP}
		if br.Rack != nil {
			bi.Rack = *br.Rack
		}
		info.Brokers = append(info.Brokers, bi)
	}
	return info
}

// localTraffic is this broker's traffic counters per local replica (of
// topic, or all), with the hot keys of those it leads when keys is set.
// Asked for every topic, it also drops the hot-key sketches of partitions
// this broker no longer leads.
func (b *Broker) localTraffic(topic string, keys bool) console.LocalTraffic {
	lt := console.LocalTraffic{Node: b.cfg.NodeID}
	led := map[hotkeys.TopicPartition]bool{}
	b.replicas.Each(func(p *partition.Partition) {
		leader := p.Role() == partition.RoleLeader
		if leader {
			led[hotkeys.TopicPartition{Topic: p.Topic, Partition: p.Index}] = true
		}
		if topic != "" && p.Topic != topic {
			return
		}
		t := p.Traffic()
		pt := console.PartitionTraffic{Topic: p.Topic, Partition: p.Index, Leader: leader,
			BytesIn: t.BytesIn.Load(), RecordsIn: t.RecordsIn.Load(), BytesOut: t.BytesOut.Load()}
		if keys && leader {
			if s := b.hotkeys.Sketch(p.Topic, p.Index); s != nil {
				pt.KeysTotal, pt.NullKeys = s.Total()
				pt.TopKeys = s.Top(10)
			}
		}
		lt.Partitions = append(lt.Partitions, pt)
	})
	if topic == "" {
		b.hotkeys.Retain(func(tp hotkeys.TopicPartition) bool { return led[tp] })
	}
	slices.SortFunc(lt.Partitions, func(x, y console.PartitionTraffic) int {
		if x.Topic != y.Topic {
			if x.Topic < y.Topic {
				return -1
			}
			return 1
		}
		return int(x.Partition - y.Partition)
	})
	return lt
}
