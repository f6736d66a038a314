package api

// DescribeLogDirs, versions 0-4 (KIP-113).
//
// v1 is v0 with the throttle applied after the response; v2 flexible; v3
// a top-level error code; v4 the total and usable bytes of the volume the
// dir is on (KIP-827).
//
// samsa has one log dir, the data dir, so the answer is one dir holding
// the requested partitions this broker has (null topics: all of them),
// each with its size (the bytes of its segments), an offset lag of 0 (a
// current log's lag is max(high watermark - log end, 0), and the high
// watermark never passes the end) and is-future false (there is no
// AlterReplicaLogDirs). A requested partition the broker does not hold is
// left out, as in Kafka.

import (
	"cmp"
	"context"
	"path/filepath"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/sys/unix"

	"github.com/samsa-kafka/samsa/internal/partition"
	"github.com/samsa-kafka/samsa/internal/wire"
)

func init() { register(35, 0, 4, (*Handler).describeLogDirs) }

func (h *Handler) describeLogDirs(_ context.Context, req *wire.Request) wire.Pending {
	r := req.Msg.(*kmsg.DescribeLogDirsRequest)
	resp := kmsg.NewPtrDescribeLogDirsResponse()

	var parts []*partition.Partition
	if r.Topics == nil {
		h.Replicas.Each(func(p *partition.Partition) { parts = append(parts, p) })
	} else {
		type tp struct {
			topic string
			index int32
		}
		seen := map[tp]bool{}
		for _, rt := range r.Topics {
			for _, i := range rt.Partitions {
				if seen[tp{rt.Topic, i}] {
					continue
				}
				seen[tp{rt.Topic, i}] = true
				if p := h.Replicas.Partition(rt.Topic, i); p != nil {
					parts = append(parts, p)
				}
			}
		}
	}
	slices.SortFunc(parts, func(a, b *partition.Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Index, b.Index))
	})

	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = h.Config.DataDir
	if abs, err := filepath.Abs(dir.Dir); err == nil {
		dir.Dir = abs // Kafka reports the absolute path
	}
	for _, p := range parts {
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.Topic
			dir.Topics = append(dir.Topics, t)
		}
		dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		dp.Partition = p.Index
		dp.Size = p.Size()
		t := &dir.Topics[len(dir.Topics)-1]
		t.Partitions = append(t.Partitions, dp)
	}
	if req.Version >= 4 {
		// As Java's FileStore reports them: all blocks, and the blocks
		// an unprivileged writer may still use. Left -1 (unknown) if the
		// volume cannot be read.
		var st unix.Statfs_t
		if err := unix.Statfs(dir.Dir, &st); err != nil {
			h.log.Warn("statfs of the log dir failed", "dir", dir.Dir, "err", err)
		} else {
			dir.TotalBytes = int64(st.Blocks) * int64(st.Bsize)
			dir.UsableBytes = int64(st.Bavail) * int64(st.Bsize)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return respond(req, resp)
}
