package main

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordFormat is a compiled --format template. Compiling once means a bad
// template fails before anything is consumed, and rendering a record is a
// walk over a few segments with no parsing.
type recordFormat []formatSegment

type formatSegment struct {
	lit   []byte // literal bytes, when field == 0
	field byte   // the placeholder letter (k, v, p, o, t, h, T), or 0 for a literal
}

const formatHelp = `output template for each record; placeholders:
  %k key   %v value   %p partition   %o offset   %t timestamp (ms since epoch)
  %h headers as k=v,k=v   %T topic   %% a literal %
escapes: \n newline, \t tab, \r carriage return, \\ backslash`

// parseFormat compiles a template such as "%k=%v %h\n". A null key or value
// renders as nothing.
func parseFormat(s string) (recordFormat, error) {
	var f recordFormat
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			f = append(f, formatSegment{lit: lit})
			lit = nil
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%', '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("--format %q: %c at the end", s, c)
			}
			i++
			n := s[i]
			if c == '\\' {
				switch n {
				case 'n':
					lit = append(lit, '\n')
				case 't':
					lit = append(lit, '\t')
				case 'r':
					lit = append(lit, '\r')
				case '\\':
					lit = append(lit, '\\')
				default:
					return nil, fmt.Errorf("--format %q: unknown escape \\%c", s, n)
				}
				continue
			}
			switch n {
			case '%':
				lit = append(lit, '%')
			case 'k', 'v', 'p', 'o', 't', 'h', 'T':
				flush()
				f = append(f, formatSegment{field: n})
			default:
				return nil, fmt.Errorf("--format %q: unknown placeholder %%%c", s, n)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return f, nil
}

// appendRecord renders r onto dst.
func (f recordFormat) appendRecord(dst []byte, r *kgo.Record) []byte {
	for _, seg := range f {
		switch seg.field {
		case 0:
			dst = append(dst, seg.lit...)
		case 'k':
			dst = append(dst, r.Key...)
		case 'v':
			dst = append(dst, r.Value...)
		case 'p':
			dst = strconv.AppendInt(dst, int64(r.Partition), 10)
		case 'o':
			dst = strconv.AppendInt(dst, r.Offset, 10)
		case 't':
			dst = strconv.AppendInt(dst, r.Timestamp.UnixMilli(), 10)
		case 'T':
			dst = append(dst, r.Topic...)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, h.Key...)
				dst = append(dst, '=')
				dst = append(dst, h.Value...)
			}
		}
	}
	return dst
}
