// Command kfake runs franz-go's kfake as a standalone single-broker
// cluster, with its data directory on disk, so bench/ can measure samsa and
// kfake side by side with the same load generator (samsa perf).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	port := flag.Int("port", 9192, "port to listen on (127.0.0.1)")
	dir := flag.String("data-dir", "", "data directory (empty: in memory)")
	partitions := flag.Int("partitions", 1, "default partitions for auto-created topics")
	sync := flag.Bool("sync", false, "fsync every write before acknowledging it (kfake's SyncWrites; needs -data-dir)")
	flag.Parse()
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(*port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	}
	if *dir != "" {
		opts = append(opts, kfake.DataDir(*dir))
	}
	if *sync {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	fmt.Println("kfake listening on", c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	c.Close()
}
