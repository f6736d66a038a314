package server

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	apiVersionsKey        = 18 // ApiVersions
	controlledShutdownKey = 7  // ControlledShutdown

	// fixedHeaderLen is api key, api version and correlation id: the part
	// of the request header that every header version shares.
	fixedHeaderLen = 8
)

var errShortHeader = errors.New("server: request frame shorter than its header")

// requestHeader is Kafka's RequestHeader (v0 to v2).
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      *string
}

// parseRequestHeader splits a request frame (the bytes after the size
// prefix) into its header and body. It also returns the kmsg request for
// the key with its version set, since only the request type knows whether
// the version is flexible, and that decides the header's layout.
func parseRequestHeader(frame []byte) (requestHeader, kmsg.Request, []byte, error) {
	var h requestHeader
	if len(frame) < fixedHeaderLen {
		return h, nil, nil, errShortHeader
	}
	h.key = int16(binary.BigEndian.Uint16(frame))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(frame[4:]))
	req := kmsg.RequestForKey(h.key)
	if req == nil {
		return h, nil, nil, fmt.Errorf("server: unknown api key %d", h.key)
	}
	req.SetVersion(h.version)

	b := kbin.Reader{Src: frame[fixedHeaderLen:]}
	// ControlledShutdown v0 predates the client id and uses header v0.
	if h.key != controlledShutdownKey || h.version != 0 {
		// The client id stays a classic int16-length string even in
		// header v2: clients send ApiVersions before they know whether
		// the broker understands compact strings.
		h.clientID = b.NullableString()
	}
	if req.IsFlexible() {
		// Header v2 ends in tagged fields. None is defined for the
		// request header, so each one is skipped.
		for n := b.Uvarint(); n > 0 && b.Ok(); n-- {
			b.Uvarint() // tag
			b.Span(int(b.Uvarint()))
		}
	}
	if err := b.Complete(); err != nil {
		return h, nil, nil, fmt.Errorf("server: api key %d v%d: malformed request header: %w", h.key, h.version, err)
	}
	return h, req, b.Src, nil
}

// decoded is one request frame, decoded.
type decoded struct {
	hdr requestHeader
	// msg is the decoded body, or nil when the frame is an ApiVersions
	// request at a version above ours (KIP-511, see decodeRequest).
	msg kmsg.Request
}

// decodeRequest checks a request frame against the served versions and
// decodes it. Any error means the connection must close: Kafka answers a
// request it cannot parse (InvalidRequestException) or an unsupported
// version of anything but ApiVersions by closing, since it cannot be sure
// the client would parse any response it could write.
//
// It does not recover panics, so that fuzzing finds them; the connection
// calls it under recover.
func (s *Server) decodeRequest(frame []byte) (decoded, error) {
	if len(frame) < fixedHeaderLen {
		return decoded{}, errShortHeader
	}
	key := int16(binary.BigEndian.Uint16(frame))
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	vr, served := s.versions[key]

	// KIP-511: a client sends ApiVersions at the newest version it knows,
	// before it knows ours. If that is newer than ours we must not try to
	// parse the body (its layout may have changed), but answer at v0 with
	// UNSUPPORTED_VERSION and our table, and the client retries at a
	// version we listed. Only the correlation id is needed for that, so
	// a header we cannot parse beyond it is no reason to close.
	if key == apiVersionsKey && (!served || version > vr.Max) {
		return decoded{hdr: requestHeader{
			key:           key,
			version:       version,
			correlationID: int32(binary.BigEndian.Uint32(frame[4:])),
		}}, nil
	}
	if !served {
		if kmsg.RequestForKey(key) == nil {
			return decoded{}, fmt.Errorf("server: unknown api key %d", key)
		}
		return decoded{}, fmt.Errorf("server: api key %d (%s) is not served", key, kmsg.NameForKey(key))
	}
	if version < vr.Min || version > vr.Max {
		return decoded{}, fmt.Errorf("server: %s v%d is outside the served range v%d-v%d", kmsg.NameForKey(key), version, vr.Min, vr.Max)
	}

	hdr, req, body, err := parseRequestHeader(frame)
	if err != nil {
		return decoded{}, err
	}
	// ReadFrom, not UnsafeReadFrom: strings a handler keeps (a topic
	// name in a map) would otherwise pin the whole frame, which for a
	// Produce request can be megabytes.
	if err := req.ReadFrom(body); err != nil {
		return decoded{}, fmt.Errorf("server: decoding %s v%d: %w", kmsg.NameForKey(key), version, err)
	}
	return decoded{hdr: hdr, msg: req}, nil
}

// kip511Response is the answer to an ApiVersions request newer than ours:
// v0, UNSUPPORTED_VERSION, and our whole table. (Kafka lists only its
// ApiVersions range here; the whole table is a superset clients accept.)
func (s *Server) kip511Response() *kmsg.ApiVersionsResponse {
	r := kmsg.NewPtrApiVersionsResponse()
	r.Version = 0
	r.ErrorCode = kerr.UnsupportedVersion.Code
	r.ApiKeys = s.apiKeys // read-only: AppendTo only reads it
	return r
}

// flexibleResponseHeader reports whether the response to req carries the
// flexible response header (v1), whose only addition is an empty tagged
// field buffer after the correlation id.
//
// ApiVersions never does, even at its flexible versions: the client must be
// able to parse the response before it knows which versions the broker
// speaks (KIP-511). Every other flexible response does. The request's
// flexibility stands for the response's: Kafka's message specs give each
// request and its response the same flexibleVersions (a test checks kmsg).
func flexibleResponseHeader(key int16, req kmsg.Request) bool {
	return key != apiVersionsKey && req.IsFlexible()
}

// appendResponseHeader appends a response size prefix (a placeholder that
// putSize fills in later) and the response header.
func appendResponseHeader(dst []byte, correlationID int32, flexible bool) []byte {
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if flexible {
		dst = append(dst, 0) // no tagged fields
	}
	return dst
}

// responseHeaderLen is the size of what appendResponseHeader appends after
// the size prefix.
func responseHeaderLen(flexible bool) int64 {
	if flexible {
		return 5
	}
	return 4
}
