package main

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	r := &kgo.Record{
		Topic:     "orders",
		Partition: 3,
		Offset:    42,
		Timestamp: time.UnixMilli(1700000000123),
		Key:       []byte("k"),
		Value:     []byte("v"),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}},
	}
	for _, tc := range []struct {
		format string
		rec    *kgo.Record
		want   string
	}{
		{`%v\n`, r, "v\n"},
		{`%k=%v %h\n`, r, "k=v a=1,b=\n"},
		{`%T[%p]@%o %t\t%%v\\`, r, "orders[3]@42 1700000000123\t%v\\"},
		{`\r%h|`, &kgo.Record{}, "\r|"},
		{`%k|%v`, &kgo.Record{}, "|"}, // null key and value print as nothing
		{`plain`, r, "plain"},
		{``, r, ""},
	} {
		f, err := parseFormat(tc.format)
		if err != nil {
			t.Fatalf("parseFormat(%q): %v", tc.format, err)
		}
		if got := string(f.appendRecord(nil, tc.rec)); got != tc.want {
			t.Errorf("format %q = %q, want %q", tc.format, got, tc.want)
		}
	}
}

func TestFormatErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ format, want string }{
		{`%x`, "unknown placeholder %x"},
		{`\q`, `unknown escape \q`},
		{`abc%`, "% at the end"},
		{`abc\`, `\ at the end`},
	} {
		_, err := parseFormat(tc.format)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFormat(%q) = %v, want an error containing %q", tc.format, err, tc.want)
		}
	}
}
