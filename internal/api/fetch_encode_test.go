package api

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/log"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// flatten joins the chunks, reading regions through their ReaderAt.
func flatten(t *testing.T, chunks []wire.Chunk) []byte {
	t.Helper()
	var out []byte
	for _, c := range chunks {
		if c.Region == nil {
			out = append(out, c.Bytes...)
			continue
		}
		b := make([]byte, c.Region.Len)
		if _, err := c.Region.File.ReadAt(b, c.Region.Off); err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// TestFetchEncoderMatchesKmsg encodes the same response with our chunked
// encoder and with kmsg at every served version: the bytes must be equal.
func TestFetchEncoderMatchesKmsg(t *testing.T) {
	t.Parallel()
	file := bytes.NewReader([]byte("xxxxBATCH-BYTES-ONExxxxBATCH-TWO"))
	id := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for v := int16(4); v <= 16; v++ {
		for _, committed := range []bool{false, true} {
			var aborted []log.AbortedTxn
			if committed {
				aborted = []log.AbortedTxn{{ProducerID: 5, FirstOffset: 3, LastOffset: 7, LastStableOffset: 8}, {ProducerID: 6, FirstOffset: 8, LastOffset: 9}}
			}
			body := fetchBody{version: v, sessionID: 0, topics: []fetchTopic{
				{name: "orders", id: id, partitions: []fetchPartition{
					{index: 0, highWatermark: 10, lastStable: 9, logStart: 2, abortedEmptyList: committed,
						records: &wire.Region{File: file, Fd: -1, Off: 4, Len: 15}, aborted: aborted},
					{index: 1, errorCode: 1, highWatermark: -1, lastStable: -1, logStart: -1, abortedEmptyList: committed},
					{index: 2, highWatermark: 5, lastStable: 5, logStart: 0, abortedEmptyList: committed,
						records: &wire.Region{File: file, Fd: -1, Off: 23, Len: 9}},
				}},
				{name: "t2", partitions: []fetchPartition{{index: 7, highWatermark: 0, lastStable: 0, logStart: 0, abortedEmptyList: committed}}},
			}}
			if v >= 12 {
				// A follower's fetch answered with where its log diverged.
				body.topics[1].partitions = append(body.topics[1].partitions, fetchPartition{index: 8,
					highWatermark: 40, lastStable: 40, logStart: 0, abortedEmptyList: committed, diverging: true, divergingEpoch: 3, divergingEnd: 37})
				// A fetch from a broker that no longer leads: the hint.
				body.topics[1].partitions = append(body.topics[1].partitions, fetchPartition{index: 9, errorCode: 6,
					highWatermark: -1, lastStable: -1, logStart: -1, abortedEmptyList: committed, leaderHint: true, leaderID: 2, leaderEpoch: 5})
			}
			if v >= 16 {
				rack := "r1"
				body.nodes = []fetchNode{{id: 2, host: "127.0.0.1", port: 9093, rack: &rack}, {id: 3, host: "h3", port: 9094}}
			}
			got := flatten(t, body.encode())

			want := kmsg.NewPtrFetchResponse()
			want.SetVersion(v)
			for _, ft := range body.topics {
				rt := kmsg.NewFetchResponseTopic()
				rt.Topic, rt.TopicID = ft.name, ft.id
				for _, fp := range ft.partitions {
					rp := kmsg.NewFetchResponseTopicPartition()
					rp.Partition, rp.ErrorCode = fp.index, fp.errorCode
					rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = fp.highWatermark, fp.lastStable, fp.logStart
					if committed {
						rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
						for _, a := range fp.aborted {
							rp.AbortedTransactions = append(rp.AbortedTransactions, kmsg.FetchResponseTopicPartitionAbortedTransaction{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset})
						}
					}
					rp.PreferredReadReplica = -1
					if fp.diverging {
						rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = fp.divergingEpoch, fp.divergingEnd
					}
					if fp.leaderHint {
						rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = fp.leaderID, fp.leaderEpoch
					}
					rp.RecordBatches = []byte{}
					if fp.records != nil {
						b := make([]byte, fp.records.Len)
						file.ReadAt(b, fp.records.Off)
						rp.RecordBatches = b
					}
					rt.Partitions = append(rt.Partitions, rp)
				}
				want.Topics = append(want.Topics, rt)
			}
			for _, n := range body.nodes {
				want.Brokers = append(want.Brokers, kmsg.FetchResponseBroker{NodeID: n.id, Host: n.host, Port: n.port, Rack: n.rack})
			}
			if exp := want.AppendTo(nil); !bytes.Equal(got, exp) {
				t.Fatalf("v%d committed=%v: encoder differs from kmsg\n got %x\nwant %x", v, committed, got, exp)
			}
			// And kmsg reads what we wrote.
			back := kmsg.NewPtrFetchResponse()
			back.SetVersion(v)
			if err := back.ReadFrom(got); err != nil {
				t.Fatalf("v%d: kmsg cannot read our encoding: %v", v, err)
			}
			if string(back.Topics[0].Partitions[0].RecordBatches) != "BATCH-BYTES-ONE" {
				t.Fatalf("v%d: records %q", v, back.Topics[0].Partitions[0].RecordBatches)
			}
		}
	}
}

// FuzzDecodeMetadataChunks: the metadata fetch's chunk decoder never
// panics, and what it decodes re-encodes to the same bytes.
func FuzzDecodeMetadataChunks(f *testing.F) {
	f.Add(AppendMetadataChunk(AppendMetadataChunk(nil, ChunkSnapshot, 3, []byte("snap")), ChunkEntry, 4, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		chunks, err := DecodeMetadataChunks(b)
		if err != nil {
			return
		}
		var again []byte
		for _, c := range chunks {
			again = AppendMetadataChunk(again, c.Kind, c.Offset, c.Data)
		}
		if string(again) != string(b) {
			t.Fatalf("re-encoded %x, want %x", again, b)
		}
	})
}
