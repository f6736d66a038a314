package record

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Error is a batch that cannot be accepted, with the Kafka error code a
// Kafka broker answers for it. errors.Is(err, kerr.CorruptMessage) and
// errors.As(err, **kerr.Error) see the code.
type Error struct {
	Code int16 // a kerr code
	Msg  string
	// RecordErrors lists the records that failed a per-record check (a
	// null key on a compacted topic, a timestamp out of bounds) for the
	// record_errors of Produce v8+ (KIP-467). It is empty when the batch as
	// a whole is at fault.
	RecordErrors []RecordError
}

// RecordError is one record refused inside an otherwise readable batch.
type RecordError struct {
	Index int32 // the record's position in the batch
	Msg   string
}

func (e *Error) Error() string {
	if ke := kerr.TypedErrorForCode(e.Code); ke != nil {
		return "record: " + e.Msg + " (" + ke.Message + ")"
	}
	return "record: " + e.Msg
}

// Unwrap returns the *kerr.Error for Code.
func (e *Error) Unwrap() error { return kerr.ErrorForCode(e.Code) }

func newError(code *kerr.Error, format string, args ...any) *Error {
	return &Error{Code: code.Code, Msg: fmt.Sprintf(format, args...)}
}

// corrupt is for bytes that are damaged: a CRC mismatch, a length that
// cannot be, a compressed stream that does not decode. Kafka's Java client
// retries CORRUPT_MESSAGE, which suits damage in transit.
func corrupt(format string, args ...any) *Error {
	return newError(kerr.CorruptMessage, format, args...)
}

// invalid is for a well-formed batch whose content breaks a rule. Since
// KIP-467 Kafka answers these with INVALID_RECORD, which clients do not
// retry: sending the same bytes again cannot help.
func invalid(format string, args ...any) *Error {
	return newError(kerr.InvalidRecord, format, args...)
}
