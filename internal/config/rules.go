package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// parsed is a value parsed by its Type. Only the field of the type is set.
type parsed struct {
	i    int64
	f    float64
	b    bool
	s    string
	list []string
}

// parse parses raw as a value of def's type and checks def's rule. It
// returns the reason the value is refused, or "" when it is accepted.
//
// Like Kafka's ConfigDef, every value is trimmed first, booleans are
// case-insensitive, and a list is split on commas with the whitespace around
// each comma dropped ("" is the empty list).
func parse(def *Def, raw string) (parsed, string) {
	v := strings.TrimSpace(raw)
	var p parsed
	switch def.Type {
	case TypeBoolean:
		switch strings.ToLower(v) {
		case "true":
			p.b = true
		case "false":
		default:
			return p, "must be true or false"
		}
	case TypeShort, TypeInt, TypeLong:
		bits := 64
		switch def.Type {
		case TypeShort:
			bits = 16
		case TypeInt:
			bits = 32
		}
		n, err := strconv.ParseInt(v, 10, bits)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return p, fmt.Sprintf("out of range for type %s", def.Type)
			}
			return p, fmt.Sprintf("not a valid %s", def.Type)
		}
		p.i = n
	case TypeDouble:
		f, err := strconv.ParseFloat(v, 64)
		// NaN slips through every range check (all comparisons are false),
		// so it is refused here rather than trusted to the rule.
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return p, "not a valid double"
		}
		p.f = f
	case TypeList:
		p.list = splitList(v)
	default: // string, password, class
		p.s = v
	}
	if def.Rule != nil {
		if reason := def.Rule.check(p); reason != "" {
			return p, reason
		}
	}
	return p, ""
}

// splitList splits a Kafka list value: comma-separated, whitespace around
// the commas ignored, "" being the empty list. An empty element ("a,,b") is
// kept so that rules can refuse it.
func splitList(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return []string{}
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// canonical renders a valid value the way Kafka renders a parsed value in
// DescribeConfigs (ConfigDef.convertToString): "010" becomes "10", "TRUE"
// becomes "true", "delete , compact" becomes "delete,compact". Stored values
// keep the form they were given in; only what is reported is canonical.
func canonical(def *Def, raw string) string {
	p, reason := parse(def, raw)
	if reason != "" {
		return strings.TrimSpace(raw)
	}
	switch def.Type {
	case TypeBoolean:
		return strconv.FormatBool(p.b)
	case TypeShort, TypeInt, TypeLong:
		return strconv.FormatInt(p.i, 10)
	case TypeDouble:
		s := strconv.FormatFloat(p.f, 'f', -1, 64)
		if !strings.ContainsAny(s, ".") {
			s += ".0" // Java's Double.toString always has a fraction
		}
		return s
	case TypeList:
		return strings.Join(p.list, ",")
	}
	return p.s
}

// Rule restricts the values of a config beyond its type.
type Rule interface {
	// check returns why p is refused, or "".
	check(p parsed) string
	// String describes the accepted values for the docs, in the style of
	// Kafka's "Valid Values" column.
	String() string
}

type atLeastRule struct{ min int64 }

// atLeast accepts integers >= min.
func atLeast(min int64) Rule { return atLeastRule{min} }

func (r atLeastRule) check(p parsed) string {
	if p.i < r.min {
		return fmt.Sprintf("must be at least %d", r.min)
	}
	return ""
}
func (r atLeastRule) String() string { return fmt.Sprintf("[%d,...]", r.min) }

type betweenRule struct{ min, max int64 }

// between accepts integers in [min, max].
func between(min, max int64) Rule { return betweenRule{min, max} }

func (r betweenRule) check(p parsed) string {
	if p.i < r.min || p.i > r.max {
		return fmt.Sprintf("must be between %d and %d", r.min, r.max)
	}
	return ""
}
func (r betweenRule) String() string { return fmt.Sprintf("[%d,...,%d]", r.min, r.max) }

type betweenOrRule struct {
	min, max int64
	or       int64
}

// betweenOr accepts integers in [min, max] and the one extra value or (the
// compression levels: gzip takes 1..9, or -1 for the codec's default).
func betweenOr(min, max, or int64) Rule { return betweenOrRule{min, max, or} }

func (r betweenOrRule) check(p parsed) string {
	if p.i != r.or && (p.i < r.min || p.i > r.max) {
		return fmt.Sprintf("must be between %d and %d, or %d", r.min, r.max, r.or)
	}
	return ""
}
func (r betweenOrRule) String() string { return fmt.Sprintf("[%d,...,%d] or %d", r.min, r.max, r.or) }

type ratioRule struct{ min, max float64 }

// ratio accepts doubles in [min, max].
func ratio(min, max float64) Rule { return ratioRule{min, max} }

func (r ratioRule) check(p parsed) string {
	if p.f < r.min || p.f > r.max {
		return fmt.Sprintf("must be between %g and %g", r.min, r.max)
	}
	return ""
}
func (r ratioRule) String() string { return fmt.Sprintf("[%g,...,%g]", r.min, r.max) }

type oneOfRule struct{ values []string }

// oneOf accepts exactly one of values, case-sensitively, as Kafka's
// ValidString does ("LZ4" is refused; "lz4" is accepted).
func oneOf(values ...string) Rule { return oneOfRule{values} }

func (r oneOfRule) check(p parsed) string {
	for _, v := range r.values {
		if p.s == v {
			return ""
		}
	}
	return "must be one of " + quoteEmpty(r.values)
}
func (r oneOfRule) String() string { return "[" + quoteEmpty(r.values) + "]" }

// quoteEmpty joins values, showing an empty one as "".
func quoteEmpty(values []string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v
		if v == "" {
			out[i] = `""`
		}
	}
	return strings.Join(out, ", ")
}

type listOfRule struct {
	values   []string
	nonEmpty bool
}

// listOf accepts lists whose every element is one of values.
func listOf(values ...string) Rule { return listOfRule{values: values} }

// nonEmptyListOf is listOf that also refuses the empty list.
func nonEmptyListOf(values ...string) Rule { return listOfRule{values: values, nonEmpty: true} }

func (r listOfRule) check(p parsed) string {
	if r.nonEmpty && len(p.list) == 0 {
		return "must not be empty"
	}
	seen := map[string]bool{}
	for _, e := range p.list {
		ok := false
		for _, v := range r.values {
			ok = ok || e == v
		}
		if !ok {
			return fmt.Sprintf("element %q must be one of %s", e, strings.Join(r.values, ", "))
		}
		if seen[e] {
			return fmt.Sprintf("element %q appears twice", e)
		}
		seen[e] = true
	}
	return ""
}
func (r listOfRule) String() string { return "[" + strings.Join(r.values, ", ") + "]" }

type onlyFalseRule struct{ why string }

// onlyFalse accepts only false: the config switches on something samsa does
// not have, and accepting true would promise it.
func onlyFalse(why string) Rule { return onlyFalseRule{why} }

func (r onlyFalseRule) check(p parsed) string {
	if p.b {
		return "must be false: " + r.why
	}
	return ""
}
func (r onlyFalseRule) String() string { return "[false]" }

type funcRule struct {
	desc string
	fn   func(p parsed) string
}

// custom is a rule given by a function and its description for the docs.
func custom(desc string, fn func(p parsed) string) Rule { return funcRule{desc, fn} }

func (r funcRule) check(p parsed) string { return r.fn(p) }
func (r funcRule) String() string        { return r.desc }

// throttledReplicas is the rule of leader/follower.replication.throttled.replicas:
// "*" alone, or "partition:broker" pairs.
var throttledReplicas = custom(`"*" or a list of partition:broker`, func(p parsed) string {
	if len(p.list) == 1 && p.list[0] == "*" {
		return ""
	}
	for _, e := range p.list {
		if !throttledEntry.MatchString(e) {
			return fmt.Sprintf(`element %q must be "partition:broker" (or the whole list "*")`, e)
		}
	}
	return ""
})

var throttledEntry = regexp.MustCompile(`^[0-9]+:[0-9]+$`)
