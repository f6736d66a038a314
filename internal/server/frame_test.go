package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/wire"
)

func TestParseRequestHeader(t *testing.T) {
	t.Parallel()
	withID := kmsg.NewRequestFormatter(kmsg.FormatterClientID("app-1"))
	noID := kmsg.NewRequestFormatter()
	metaV4 := request(withID, kmsg.NewPtrMetadataRequest(), 4, 7)
	metaV12 := request(withID, kmsg.NewPtrMetadataRequest(), 12, 8)
	metaV12Null := request(noID, kmsg.NewPtrMetadataRequest(), 12, 9)
	shutdownV0 := request(withID, kmsg.NewPtrControlledShutdownRequest(), 0, 10)

	// Metadata v12 with two tagged fields in its header, which must be
	// skipped: after the client id come count 2, tag 0 size 3 "abc", tag
	// 5 size 0.
	tagged := binary.BigEndian.AppendUint16(nil, 3)
	tagged = binary.BigEndian.AppendUint16(tagged, 12)
	tagged = binary.BigEndian.AppendUint32(tagged, 11)
	tagged = append(tagged, 0, 2, 'i', 'd')
	tagged = append(tagged, 2, 0, 3, 'a', 'b', 'c', 5, 0)
	body12 := kmsg.NewPtrMetadataRequest()
	body12.Version = 12
	tagged = body12.AppendTo(tagged)

	id := func(s string) *string { return &s }
	tests := []struct {
		name     string
		frame    []byte
		want     requestHeader
		wantBody []byte
		wantErr  string
	}{
		{"header v1", metaV4[4:], requestHeader{3, 4, 7, id("app-1")}, metaV4[4+8+2+5:], ""},
		{"header v2", metaV12[4:], requestHeader{3, 12, 8, id("app-1")}, metaV12[4+8+2+5+1:], ""},
		{"null client id", metaV12Null[4:], requestHeader{3, 12, 9, nil}, metaV12Null[4+8+2+1:], ""},
		{"header v2 with tags", tagged, requestHeader{3, 12, 11, id("id")}, tagged[8+4+8:], ""},
		{"ControlledShutdown v0 has no client id", shutdownV0[4:], requestHeader{7, 0, 10, nil}, shutdownV0[4+8:], ""},
		{"short", []byte{0, 3, 0, 4, 0, 0, 0}, requestHeader{}, nil, "shorter than its header"},
		{"unknown key", []byte{0x7f, 0, 0, 0, 0, 0, 0, 1, 0, 0}, requestHeader{0x7f00, 0, 1, nil}, nil, "unknown api key 32512"},
		{"truncated client id", []byte{0, 3, 0, 4, 0, 0, 0, 1, 0, 9, 'a'}, requestHeader{3, 4, 1, nil}, nil, "malformed request header"},
		{"truncated tags", []byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 1, 0, 5, 'a'}, requestHeader{3, 12, 1, nil}, nil, "malformed request header"},
		{"missing tags", []byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff}, requestHeader{3, 12, 1, nil}, nil, "malformed request header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, req, body, err := parseRequestHeader(tt.frame)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "server: ") {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("header = %+v, want %+v", h, tt.want)
			}
			if !bytes.Equal(body, tt.wantBody) {
				t.Errorf("body = % x, want % x", body, tt.wantBody)
			}
			if req.Key() != tt.want.key || req.GetVersion() != tt.want.version {
				t.Errorf("request %d v%d, want %d v%d", req.Key(), req.GetVersion(), tt.want.key, tt.want.version)
			}
		})
	}
}

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	s := New(Config{Versions: testVersions()}, answer(nil, ""))
	f := kmsg.NewRequestFormatter()
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("orders")}}
	metaV12 := request(f, meta, 12, 1)

	tests := []struct {
		name    string
		frame   []byte
		wantErr string
		check   func(t *testing.T, d decoded)
	}{
		{name: "Metadata v12", frame: metaV12[4:], check: func(t *testing.T, d decoded) {
			m, ok := d.msg.(*kmsg.MetadataRequest)
			if !ok || m.Version != 12 || len(m.Topics) != 1 || *m.Topics[0].Topic != "orders" {
				t.Fatalf("decoded %+v", d.msg)
			}
		}},
		{name: "unknown key", frame: rawFrame(1000, 0, 1, nil)[4:], wantErr: "server: unknown api key 1000"},
		{name: "known key not served", frame: request(f, kmsg.NewPtrProduceRequest(), 3, 1)[4:], wantErr: "server: api key 0 (Produce) is not served"},
		{name: "version above range", frame: request(f, kmsg.NewPtrMetadataRequest(), 13, 1)[4:], wantErr: "server: Metadata v13 is outside the served range v0-v12"},
		{name: "version below range", frame: request(f, kmsg.NewPtrFetchRequest(), 3, 1)[4:], wantErr: "server: Fetch v3 is outside the served range v4-v12"},
		{name: "negative version", frame: rawFrame(3, -1, 1, nil)[4:], wantErr: "server: Metadata v-1 is outside"},
		{name: "truncated body", frame: metaV12[4 : len(metaV12)-3], wantErr: "server: decoding Metadata v12"},
		{name: "ApiVersions above range: KIP-511", frame: request(f, kmsg.NewPtrApiVersionsRequest(), 5, 42)[4:], check: func(t *testing.T, d decoded) {
			if d.msg != nil || d.hdr.key != apiVersionsKey || d.hdr.correlationID != 42 {
				t.Fatalf("decoded %+v, want the KIP-511 fallback for correlation id 42", d)
			}
		}},
		// Nothing past the correlation id is read for the fallback.
		{name: "ApiVersions v127 with a garbage header", frame: []byte{0, 18, 0, 127, 0, 0, 0, 43, 0xff}, check: func(t *testing.T, d decoded) {
			if d.msg != nil || d.hdr.correlationID != 43 {
				t.Fatalf("decoded %+v, want the KIP-511 fallback for correlation id 43", d)
			}
		}},
		{name: "ApiVersions in range", frame: request(f, kmsg.NewPtrApiVersionsRequest(), 3, 44)[4:], check: func(t *testing.T, d decoded) {
			if _, ok := d.msg.(*kmsg.ApiVersionsRequest); !ok || d.hdr.version != 3 {
				t.Fatalf("decoded %+v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.decodeRequest(tt.frame)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, d)
		})
	}
}

func TestKIP511ResponseListsTable(t *testing.T) {
	t.Parallel()
	s := New(Config{Versions: testVersions()}, answer(nil, ""))
	got := s.kip511Response()
	want := []kmsg.ApiVersionsResponseApiKey{{ApiKey: 1, MinVersion: 4, MaxVersion: 12}, {ApiKey: 3, MaxVersion: 12}, {ApiKey: 18, MaxVersion: 4}}
	if got.Version != 0 || got.ErrorCode != 35 || !reflect.DeepEqual(got.ApiKeys, want) {
		t.Fatalf("got v%d error %d keys %+v, want v0 error 35 keys %+v", got.Version, got.ErrorCode, got.ApiKeys, want)
	}
}

// The server decides the response header from the request's flexibility;
// that is sound only while kmsg (from Kafka's specs) agrees for every key
// and version.
func TestRequestAndResponseFlexibleVersionsAgree(t *testing.T) {
	t.Parallel()
	checked := 0
	for key := int16(0); key < 1000; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		resp := kmsg.ResponseForKey(key)
		for v := int16(0); v <= req.MaxVersion()+1; v++ {
			req.SetVersion(v)
			resp.SetVersion(v)
			if req.IsFlexible() != resp.IsFlexible() {
				t.Errorf("%s v%d: request flexible %v, response flexible %v", kmsg.NameForKey(key), v, req.IsFlexible(), resp.IsFlexible())
			}
			checked++
		}
	}
	if checked < 400 {
		t.Fatalf("checked only %d key versions", checked)
	}
}

func TestFlexibleResponseHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		req  kmsg.Request
		v    int16
		want bool
	}{
		{kmsg.NewPtrApiVersionsRequest(), 2, false},
		{kmsg.NewPtrApiVersionsRequest(), 3, false}, // flexible, yet no tag byte
		{kmsg.NewPtrApiVersionsRequest(), 4, false},
		{kmsg.NewPtrMetadataRequest(), 8, false},
		{kmsg.NewPtrMetadataRequest(), 9, true},
		{kmsg.NewPtrFetchRequest(), 11, false},
		{kmsg.NewPtrFetchRequest(), 12, true},
	}
	for _, tt := range tests {
		tt.req.SetVersion(tt.v)
		if got := flexibleResponseHeader(tt.req.Key(), tt.req); got != tt.want {
			t.Errorf("%s v%d: flexible header %v, want %v", kmsg.NameForKey(tt.req.Key()), tt.v, got, tt.want)
		}
	}
}

func TestNewRejectsUndecodableVersions(t *testing.T) {
	t.Parallel()
	for _, vr := range []map[int16]wire.VersionRange{
		{3: {Min: 0, Max: 99}},  // beyond kmsg
		{3: {Min: 5, Max: 4}},   // empty
		{3: {Min: -1, Max: 4}},  // negative
		{999: {Min: 0, Max: 0}}, // unknown key
	} {
		func() {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "server: Versions[") {
					t.Errorf("New(%v) panic = %v, want a server: Versions[...] message", vr, r)
				}
			}()
			New(Config{Versions: vr}, answer(nil, ""))
		}()
	}
}

// allVersions serves everything kmsg can decode, so that fuzzing reaches
// every decoder.
func allVersions() map[int16]wire.VersionRange {
	m := make(map[int16]wire.VersionRange)
	for key := int16(0); key < 1000; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			m[key] = wire.VersionRange{Min: 0, Max: req.MaxVersion()}
		}
	}
	return m
}

// fuzzSeeds are valid request frames (without size prefix) of several
// kinds and header versions.
func fuzzSeeds() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	meta := kmsg.NewPtrMetadataRequest()
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("t")}}
	fetch := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	ft.Partitions = []kmsg.FetchRequestTopicPartition{kmsg.NewFetchRequestTopicPartition()}
	fetch.Topics = append(fetch.Topics, ft)
	produce := kmsg.NewPtrProduceRequest()
	produce.Acks = 0
	var seeds [][]byte
	for _, s := range []struct {
		req kmsg.Request
		v   int16
	}{
		{kmsg.NewPtrApiVersionsRequest(), 0},
		{kmsg.NewPtrApiVersionsRequest(), 3},
		{kmsg.NewPtrApiVersionsRequest(), 127},
		{meta, 1}, {meta, 9}, {meta, 12},
		{fetch, 4}, {fetch, 12},
		{produce, 3}, {produce, 9},
		{kmsg.NewPtrControlledShutdownRequest(), 0},
	} {
		seeds = append(seeds, request(f, s.req, s.v, 1)[4:])
	}
	return seeds
}

func FuzzParseRequestHeader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Add([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0xff, 0xff, 0x80, 0x80, 0x80, 0x80, 0x80})
	s := New(Config{Versions: allVersions()}, answer(nil, ""))
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, req, body, err := parseRequestHeader(frame)
		if err == nil {
			if len(frame) < fixedHeaderLen || h.correlationID != int32(binary.BigEndian.Uint32(frame[4:])) {
				t.Fatalf("header %+v from % x", h, frame)
			}
			if req == nil || req.Key() != h.key || req.GetVersion() != h.version {
				t.Fatalf("request %v for header %+v", req, h)
			}
			if len(body) > len(frame)-fixedHeaderLen || (len(body) > 0 && &body[len(body)-1] != &frame[len(frame)-1]) {
				t.Fatalf("body is not a suffix of the frame")
			}
		} else if !strings.HasPrefix(err.Error(), "server: ") {
			t.Fatalf("unprefixed error %v", err)
		}
		// The full decode, without the connection's recover, so that a
		// kmsg decoder panic is a fuzz failure.
		if d, err := s.decodeRequest(frame); err == nil && d.msg == nil && d.hdr.key != apiVersionsKey {
			t.Fatalf("decoded nothing without an error: %+v", d)
		}
	})
}

// TestTagCountBombDecodesQuickly: a tag count of ~2^32 after the input has
// run out used to keep kmsg's tag loop spinning for seconds per request
// (see third_party/kmsg/SAMSA-PATCH.md). The bodies are what fuzzing found.
func TestTagCountBombDecodesQuickly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, version int16
		body         string
	}{
		{3, 12, "\x00\x01\x00\xf4\xde\xa6\x6a"},
		{35, 4, "\x01\xf4\xde\xa6\x6a\x00"},
	} {
		req := kmsg.RequestForKey(tc.key)
		req.SetVersion(tc.version)
		done := make(chan error, 1)
		go func() { done <- req.ReadFrom([]byte(tc.body)) }()
		// Not a timing assertion: a patched decoder returns in
		// microseconds; an unpatched one spins for seconds, and a
		// minute is far past anything legitimate.
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("key %d v%d: truncated body %q decoded without error", tc.key, tc.version, tc.body)
			}
		case <-time.After(time.Minute):
			t.Fatalf("key %d v%d: decoding a %d-byte body still running after a minute", tc.key, tc.version, len(tc.body))
		}
	}
}

// TestReadPooled: a Produce frame of any size comes back whole, in a buffer
// of its size class, and a truncated one is an unexpected EOF.
func TestReadPooled(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 1000, firstChunk - 1, firstChunk, firstChunk + 1, 5<<20 + 3, 16 << 20} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(i*7 + i>>16)
		}
		got, err := readPooled(bytes.NewReader(src), n)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: frame differs", n)
		}
		want := max(firstChunk, 1<<bits.Len(uint(n-1)))
		if cap(got) != want {
			t.Fatalf("%d bytes: capacity %d, want %d", n, cap(got), want)
		}
		putFrame(got)
		if _, err := readPooled(bytes.NewReader(src[:n-1]), n); err != io.ErrUnexpectedEOF {
			t.Fatalf("%d bytes, one short: %v, want unexpected EOF", n, err)
		}
		if _, err := readPooled(bytes.NewReader(nil), n); err != io.ErrUnexpectedEOF {
			t.Fatalf("%d bytes, none sent: %v, want unexpected EOF", n, err)
		}
	}
	// A buffer not made by getFrame is not pooled.
	putFrame(make([]byte, 3<<20))
	if b := getFrame(3 << 20); cap(b) != 4<<20 {
		t.Fatalf("3 MiB frame: capacity %d, want 4 MiB", cap(b))
	}
}
