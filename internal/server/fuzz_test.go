package server

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/samsa-kafka/samsa/internal/auth"
	"github.com/samsa-kafka/samsa/internal/metadata"
	"github.com/samsa-kafka/samsa/internal/wire"
)

// fuzzHandler answers everything with kmsg's default response, except that
// a Produce asks for no response and an ApiVersions gets a pre-encoded
// Body, so all three response shapes are written.
func fuzzHandler(versions map[int16]wire.VersionRange) handlerFunc {
	return func(ctx context.Context, req *wire.Request) wire.Pending {
		switch req.Key {
		case 0:
			return wire.Now(wire.Response{})
		case apiVersionsKey:
			r := apiVersionsResponse(versions)
			r.SetVersion(req.Version)
			return wire.Now(wire.Response{Body: &wire.Body{Chunks: []wire.Chunk{{Bytes: r.AppendTo(nil)}}}})
		}
		return wire.Now(wire.Response{Msg: answerMsg(versions, "", req)})
	}
}

// FuzzConnStream writes an arbitrary byte stream to a connection and closes
// it. The server must neither panic (recovered panics count as failures
// here) nor hang: the connection must end once the bytes do.
func FuzzConnStream(f *testing.F) {
	var stream []byte
	for _, frame := range fuzzSeeds() {
		framed := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
		framed = append(framed, frame...)
		f.Add(framed)
		stream = append(stream, framed...)
	}
	f.Add(stream) // pipelined
	f.Add(append(stream, 0x7f, 0xff, 0xff, 0xff))
	f.Add(append(stream, 0, 0, 0, 3, 0, 3, 0))
	f.Add(append(append([]byte(nil), stream[:len(stream)-5]...), stream...))
	f.Add(request(kmsg.NewRequestFormatter(), kmsg.NewPtrMetadataRequest(), 13, 1))

	f.Fuzz(func(t *testing.T, stream []byte) { fuzzStream(t, stream, nil) })
}

// FuzzSASLConnStream is FuzzConnStream on a SASL listener's connection,
// whose requests before authenticating the server answers itself: the
// seeds authenticate with PLAIN, fail to, or skip the handshake.
func FuzzSASLConnStream(f *testing.F) {
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("fuzz"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	good, bad := kmsg.NewPtrSASLAuthenticateRequest(), kmsg.NewPtrSASLAuthenticateRequest()
	good.SASLAuthBytes, bad.SASLAuthBytes = []byte("\x00alice\x00pw"), []byte("alice\x00pw")
	meta := kmsg.NewPtrMetadataRequest()
	var ok []byte
	for i, r := range []kmsg.Request{kmsg.NewPtrApiVersionsRequest(), hs, good, meta} {
		ok = append(ok, request(fm, r, r.MaxVersion(), int32(i))...)
	}
	f.Add(ok)
	f.Add(append(request(fm, hs, 1, 1), request(fm, bad, 2, 2)...))
	f.Add(request(fm, meta, 12, 1))
	f.Add(append(request(fm, hs, 1, 1), append(request(fm, hs, 1, 2), request(fm, good, 0, 3)...)...))
	scram := func(string, metadata.ScramMechanism) (metadata.ScramCredential, bool) {
		return metadata.ScramCredential{}, false
	}
	a, err := auth.NewMechanisms([]string{"PLAIN", "SCRAM-SHA-256"}, map[string]string{"alice": "pw"}, scram)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, stream []byte) { fuzzStream(t, stream, a) })
}

// fuzzStream writes stream to a new connection (authenticated with a when
// not nil) and checks that it ends with its bytes, with no panic.
func fuzzStream(t *testing.T, stream []byte, a Authenticator) {
	versions := allVersions()
	s := New(Config{Versions: versions, MaxRequestBytes: 1 << 20, MaxInFlightPerConn: 4}, fuzzHandler(versions))
	srvSide, cliSide := net.Pipe()
	if !s.startConn(srvSide, "", a) {
		t.Fatal("startConn refused a connection")
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(io.Discard, cliSide)
	}()
	cliSide.SetWriteDeadline(time.Now().Add(testTimeout))
	cliSide.Write(stream) // fails early if the server closes first
	cliSide.Close()
	<-drained

	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("connection did not end with its bytes: %v", err)
	}
	if st := s.Stats(); st.Panics != 0 || st.ConnectionsOpen != 0 {
		t.Fatalf("stats %+v", st)
	}
}
