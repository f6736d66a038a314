package robust

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/api"
	"github.com/samsa-kafka/samsa/internal/record"
)

// maxRequest is the socket.request.max.bytes the framing tests run with.
const maxRequest = 1 << 20

// rawHeader is a request header (v1: key, version, correlation id, client
// id) with no body.
func rawHeader(key, version int16, corr int32, clientID string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	return append(b, clientID...)
}

// sized prefixes a frame body with its length.
func sized(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// withVersion encodes req at version v (whatever the broker serves).
func withVersion(c *conn, req kmsg.Request, v int16) []byte {
	req.SetVersion(v)
	b, _ := c.frame(req)
	return b
}

// TestFramingClosesConnection sends frames a Kafka broker answers by
// closing the connection: it cannot parse them, or cannot be sure the
// client would parse any answer.
func TestFramingClosesConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "socket.request.max.bytes=1048576")

	cases := []struct {
		name  string
		frame func(t testing.TB, c *conn) []byte
	}{
		// Only the 4-byte prefix is sent: a broker that tried to read
		// the 200 MiB would wait for ever instead of closing.
		{"length 200 MiB above socket.request.max.bytes", func(testing.TB, *conn) []byte {
			return binary.BigEndian.AppendUint32(nil, 200<<20)
		}},
		{"length one above socket.request.max.bytes", func(testing.TB, *conn) []byte {
			return binary.BigEndian.AppendUint32(nil, maxRequest+1)
		}},
		{"length -1", func(testing.TB, *conn) []byte { return binary.BigEndian.AppendUint32(nil, 0xffffffff) }},
		{"length MinInt32", func(testing.TB, *conn) []byte { return binary.BigEndian.AppendUint32(nil, 0x80000000) }},
		{"length 0", func(testing.TB, *conn) []byte { return binary.BigEndian.AppendUint32(nil, 0) }},
		{"header shorter than key, version and correlation id", func(testing.TB, *conn) []byte {
			return sized([]byte{0, 18, 0, 3, 0, 0})
		}},
		{"unknown api key 9999", func(testing.TB, *conn) []byte { return sized(rawHeader(9999, 0, 1, "robust")) }},
		{"unknown api key -1", func(testing.TB, *conn) []byte { return sized(rawHeader(-1, 0, 1, "robust")) }},
		{"Produce v2 (below the served range)", func(t testing.TB, c *conn) []byte {
			return withVersion(c, produceReq(healthTopic, 0, -1, plainBatch(t, "v2")), 2)
		}},
		{"Produce v99 (above every version)", func(testing.TB, *conn) []byte { return sized(rawHeader(0, 99, 1, "robust")) }},
		{"Fetch v3", func(t testing.TB, c *conn) []byte {
			return withVersion(c, fetchReq(healthTopic, 0, 0, 1<<20, 1<<20), 3)
		}},
		{"Metadata v0", func(t testing.TB, c *conn) []byte { return withVersion(c, kmsg.NewPtrMetadataRequest(), 0) }},
		{"client id longer than the frame", func(testing.TB, *conn) []byte {
			h := rawHeader(3, 1, 1, "")
			binary.BigEndian.PutUint16(h[8:], 500)
			return sized(h)
		}},
		{"Metadata v12 body cut in half", func(t testing.TB, c *conn) []byte {
			full, _ := c.frame(metadataReq("a-topic-with-a-long-name", "another-topic", healthTopic))
			hdr := 4 + len(rawHeader(3, 12, 0, "robust")) + 1 // + the header's tag buffer
			body := full[hdr:]
			return sized(append(full[4:hdr:hdr], body[:len(body)/2]...))
		}},
		{"Produce v11 body of 0xff bytes", func(testing.TB, *conn) []byte {
			h := append(rawHeader(0, produceVersion, 1, "robust"), 0) // header tag buffer
			garbage := make([]byte, 64)
			for i := range garbage {
				garbage[i] = 0xff
			}
			return sized(append(h, garbage...))
		}},
		{"CreateTopics v7 with an array length past the frame", func(testing.TB, *conn) []byte {
			h := append(rawHeader(19, 7, 1, "robust"), 0)
			// A compact array claiming 2^28 topics, then nothing.
			return sized(append(h, 0x81, 0x80, 0x80, 0x80, 0x01))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Server().Stats().ProtocolErrors
			c := dial(t, b.Addr())
			c.write(t, tc.frame(t, c))
			c.expectClosed(t)
			if got := b.Server().Stats().ProtocolErrors - before; got != 1 {
				t.Errorf("protocol errors rose by %d, want 1", got)
			}
			serving(t, b)
		})
	}
	if p := b.Server().Stats().Panics; p != 0 {
		t.Fatalf("%d panics recovered", p)
	}
}

// TestApiVersionsNewerThanServed is KIP-511: ApiVersions at a version the
// broker does not know is answered at v0 with UNSUPPORTED_VERSION and the
// broker's table, and the connection stays usable for the retry.
func TestApiVersionsNewerThanServed(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "socket.request.max.bytes=1048576")
	c := dial(t, b.Addr())
	req := &kmsg.ApiVersionsRequest{Version: 127, ClientSoftwareName: "robust", ClientSoftwareVersion: "1"}
	frame, corr := c.frame(req)
	c.write(t, frame)
	raw, err := c.readFrame()
	if err != nil {
		t.Fatalf("reading the ApiVersions v127 response: %v", err)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = 0
	if err := decodeResponse(raw, corr, false, resp); err != nil {
		t.Fatalf("decoding as ApiVersions v0: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error %s, want %s", codeName(resp.ErrorCode), codeName(kerr.UnsupportedVersion.Code))
	}
	var want []kmsg.ApiVersionsResponseApiKey
	for k, vr := range api.Versions() {
		want = append(want, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: vr.Min, MaxVersion: vr.Max})
	}
	slices.SortFunc(want, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	if !sameKeys(resp.ApiKeys, want) {
		t.Fatalf("api keys\n%+v\nwant\n%+v", resp.ApiKeys, want)
	}
	// The v0 body must be the whole frame: nothing after the table.
	if n := 4 + len(resp.AppendTo(nil)); n != len(raw) {
		t.Fatalf("response frame is %d bytes, a v0 ApiVersions response %d", len(raw), n)
	}

	// The client retries at the newest version listed, on the same
	// connection. The table it gets then lists the same APIs up to the
	// same versions (ApiVersions may advertise a lower minimum than it
	// serves, as for Produce: KAFKA-18659).
	av := rt[*kmsg.ApiVersionsResponse](t, c, &kmsg.ApiVersionsRequest{Version: 4, ClientSoftwareName: "robust", ClientSoftwareVersion: "1"})
	sameMax := slices.EqualFunc(av.ApiKeys, want, func(x, y kmsg.ApiVersionsResponseApiKey) bool {
		return x.ApiKey == y.ApiKey && x.MinVersion <= y.MinVersion && x.MaxVersion == y.MaxVersion
	})
	if av.ErrorCode != 0 || !sameMax {
		t.Fatalf("ApiVersions v4 after the retry: error %s, keys %+v", codeName(av.ErrorCode), av.ApiKeys)
	}
	serving(t, b)
}

// TestFrameAtTheLimit: a request of exactly socket.request.max.bytes is
// read and answered (the limit is inclusive, as in Kafka), and one byte
// more closes the connection (TestFramingClosesConnection).
func TestFrameAtTheLimit(t *testing.T) {
	t.Parallel()
	b := startBroker(t, "socket.request.max.bytes=1048576")
	c := dial(t, b.Addr())
	createTopic(t, c, "limit", 1)
	// A produce whose frame body is exactly maxRequest bytes: find the
	// overhead with an empty value, then pad the value.
	value := func(n int) []byte {
		return build(t, record.CodecNone, plainOpts(), []record.Record{{Key: []byte("k"), Value: make([]byte, n)}})
	}
	// Pad the value until the frame body is exactly maxRequest bytes (the
	// varint lengths grow with it, hence the loop).
	n := maxRequest
	var frame []byte
	var corr int32
	for range 10 {
		frame, corr = c.frame(produceReq("limit", 0, -1, value(n)))
		if len(frame)-4 == maxRequest {
			break
		}
		n -= len(frame) - 4 - maxRequest
	}
	if len(frame)-4 != maxRequest {
		t.Fatalf("frame body is %d bytes, want %d", len(frame)-4, maxRequest)
	}
	c.write(t, frame)
	raw, err := c.readFrame()
	if err != nil {
		t.Fatalf("request of exactly socket.request.max.bytes: %v", err)
	}
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = produceVersion
	if err := decodeResponse(raw, corr, true, resp); err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("produce of a %d-byte request: error %s", maxRequest, codeName(code))
	}
	serving(t, b)
}

// TestCloseMidFrame: connections that vanish mid-request, or right after
// sending one, do not disturb a connection that is waiting in a long poll
// nor any new one.
func TestCloseMidFrame(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	setup := dial(t, b.Addr())
	createTopic(t, setup, "midframe", 1)
	produceOK(t, setup, "midframe", 0, plainBatch(t, "a", "b"), 0)

	// A long poll at the log end, in flight while the others misbehave.
	poller := dial(t, b.Addr())
	poll := fetchReq("midframe", 0, 2, 1<<20, 1<<20)
	poll.MaxWaitMillis, poll.MinBytes = int32(waitFor.Milliseconds()), 1
	pollFrame, pollCorr := poller.frame(poll)
	poller.write(t, pollFrame)

	// Half a produce frame, then close.
	half := dial(t, b.Addr())
	f, _ := half.frame(produceReq("midframe", 0, -1, plainBatch(t, "never")))
	half.write(t, f[:len(f)/2])
	half.nc.Close()

	// Only the size prefix and part of the header, then close.
	stub := dial(t, b.Addr())
	stub.write(t, f[:6])
	stub.nc.Close()

	// A whole acks=all produce, closed before the response is read.
	gone := dial(t, b.Addr())
	f, _ = gone.frame(produceReq("midframe", 0, -1, plainBatch(t, "c")))
	gone.write(t, f)
	gone.nc.Close()

	// The poller sees "c" (the abandoned whole produce was appended: the
	// broker read it before the close), and nothing of "never".
	raw, err := poller.readFrame()
	if err != nil {
		t.Fatalf("long poll: %v", err)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = fetchVersion
	if err := decodeResponse(raw, pollCorr, true, resp); err != nil {
		t.Fatal(err)
	}
	p := fetchPartition(t, resp)
	got := decode(t, p.RecordBatches)
	if p.ErrorCode != 0 || len(got) != 1 || got[0].Offset != 2 || got[0].Value != "c" {
		t.Fatalf("long poll: error %s, records %+v, want offset 2 value c", codeName(p.ErrorCode), got)
	}
	checkLog(t, poller, "midframe", 0, []string{"a", "b", "c"})
	serving(t, b)
	// The three closed connections are gone from the broker's books.
	eventually(t, "only the setup and poller connections open", func() bool {
		return b.Server().Stats().ConnectionsOpen == 2
	}, func() string { return fmt.Sprintf("%+v", b.Server().Stats()) })
	if pe := b.Server().Stats().ProtocolErrors; pe != 0 {
		t.Fatalf("%d protocol errors: a client closing is not one", pe)
	}
}

func sameKeys(a, b []kmsg.ApiVersionsResponseApiKey) bool {
	return slices.EqualFunc(a, b, func(x, y kmsg.ApiVersionsResponseApiKey) bool {
		return x.ApiKey == y.ApiKey && x.MinVersion == y.MinVersion && x.MaxVersion == y.MaxVersion
	})
}
