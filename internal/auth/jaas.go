package auth

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// plainLoginModule is the login module whose user_<name> options are a
// broker's SASL/PLAIN users.
const plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"

// plainUserPrefix starts the options of a PlainLoginModule naming a user.
const plainUserPrefix = "user_"

// JAAS is one parsed sasl.jaas.config value: "<LoginModuleClass> <flag> key="value" key2="value2";"
type JAAS struct {
	LoginModule string            // e.g. org.apache.kafka.common.security.plain.PlainLoginModule
	Flag        string            // required | requisite | sufficient | optional
	Options     map[string]string // a key given twice keeps its last value, as in Kafka
}

// ParseJAAS parses exactly one login module entry as Kafka's JaasConfig
// does, with java.io.StreamTokenizer's rules: values quoted with " or '
// (backslash escapes: \n \t \r \b \f \a \v, octal \0 to \377, any other
// character stands for itself) or unquoted words (a letter, _ or $, then
// those, digits, '.' and '-'), whitespace and newlines anywhere, // and
// /* */ comments, the flag in any case (kept lower-case), the trailing
// ';' required, one entry only (Kafka refuses a sasl.jaas.config property
// with more than one login module).
//
// Unlike Kafka, a quoted string that reaches the end of its line or of the
// value unclosed is an error (Java's tokenizer ends the string there
// silently), an option name must be a word or quoted string, and the value
// must be valid UTF-8. Errors give positions, never the text of a value
// (they are passwords) or of an option name (a mangled value may look like
// one).
func ParseJAAS(s string) (JAAS, error) {
	if !utf8.ValidString(s) {
		return JAAS{}, errors.New("jaas: not valid UTF-8")
	}
	p := &jaasParser{t: jaasTokenizer{s: s}}
	var entries []JAAS
	for {
		t, err := p.next()
		if err != nil {
			return JAAS{}, err
		}
		if t.kind == jaasEOF {
			break
		}
		e, err := p.entry(t)
		if err != nil {
			return JAAS{}, err
		}
		entries = append(entries, e)
	}
	switch len(entries) {
	case 0:
		return JAAS{}, errors.New("jaas: login module not specified")
	case 1:
		return entries[0], nil
	}
	return JAAS{}, fmt.Errorf("jaas: the value contains %d login modules, should be 1", len(entries))
}

// PlainUsers returns the user_<name>="<password>" options of a
// PlainLoginModule entry (error if the LoginModule is not
// org.apache.kafka.common.security.plain.PlainLoginModule). An option
// "user_" (no name) is left out: no client can authenticate as "".
func (j JAAS) PlainUsers() (map[string]string, error) {
	if j.LoginModule != plainLoginModule {
		return nil, fmt.Errorf("jaas: PLAIN users come from login module %s, not %q", plainLoginModule, j.LoginModule)
	}
	users := map[string]string{}
	for k, v := range j.Options {
		if name, ok := strings.CutPrefix(k, plainUserPrefix); ok && name != "" {
			users[name] = v
		}
	}
	return users, nil
}

// encode writes j back as a sasl.jaas.config value ParseJAAS reads as j,
// every name and value quoted, options sorted.
func (j JAAS) encode() string {
	var b strings.Builder
	b.WriteString(jaasQuote(j.LoginModule))
	b.WriteString(" ")
	b.WriteString(j.Flag)
	for _, k := range slices.Sorted(maps.Keys(j.Options)) {
		b.WriteString("\n  ")
		b.WriteString(jaasQuote(k))
		b.WriteString("=")
		b.WriteString(jaasQuote(j.Options[k]))
	}
	b.WriteString(";")
	return b.String()
}

var jaasQuoter = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

func jaasQuote(s string) string { return `"` + jaasQuoter.Replace(s) + `"` }

// jaasParser reads entries as Kafka's JaasConfig.parseAppConfigurationEntry.
type jaasParser struct {
	t jaasTokenizer
}

func (p *jaasParser) next() (jaasToken, error) { return p.t.next() }

func (p *jaasParser) errorf(t jaasToken, format string, args ...any) error {
	line, col := 1, 1
	for _, r := range p.t.s[:t.pos] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Errorf("jaas: line %d, column %d: %s", line, col, fmt.Sprintf(format, args...))
}

func (p *jaasParser) entry(first jaasToken) (JAAS, error) {
	if !first.hasText() || first.text == "" {
		return JAAS{}, p.errorf(first, "login module class name expected")
	}
	e := JAAS{LoginModule: first.text, Options: map[string]string{}}
	t, err := p.next()
	if err != nil {
		return JAAS{}, err
	}
	if t.kind == jaasEOF {
		return JAAS{}, p.errorf(t, "login module control flag not specified")
	}
	// Kafka upper-cases the flag (Locale.ROOT) and accepts a quoted one.
	switch flag := strings.ToUpper(t.text); flag {
	case "REQUIRED", "REQUISITE", "SUFFICIENT", "OPTIONAL":
		e.Flag = strings.ToLower(flag)
	default:
		return JAAS{}, p.errorf(t, "invalid login module control flag (want required, requisite, sufficient or optional)")
	}
	for n := 1; ; n++ {
		t, err := p.next()
		if err != nil {
			return JAAS{}, err
		}
		if t.kind == jaasEOF {
			return JAAS{}, p.errorf(t, "login module entry not terminated by ';'")
		}
		if t.kind == jaasChar && t.char == ';' {
			return e, nil
		}
		if !t.hasText() {
			return JAAS{}, p.errorf(t, "option %d: name expected (a word or a quoted string)", n)
		}
		key := t.text
		eq, err := p.next()
		if err != nil {
			return JAAS{}, err
		}
		if eq.kind != jaasChar || eq.char != '=' {
			return JAAS{}, p.errorf(t, "option %d: value not specified (want name=value)", n)
		}
		v, err := p.next()
		if err != nil {
			return JAAS{}, err
		}
		if !v.hasText() {
			return JAAS{}, p.errorf(v, "option %d: value not specified (a word or a quoted string)", n)
		}
		e.Options[key] = v.text
	}
}

// The kinds of token java.io.StreamTokenizer gives, as Kafka configures it.
const (
	jaasEOF    = iota
	jaasWord   // a letter, _, $ or char >= 160, then those, digits, '.' and '-'
	jaasQuoted // a string in " or '
	jaasNumber // digits, '.' or a leading '-': no text, so never a name or value
	jaasChar   // any other single character: '=', ';', ...
)

type jaasToken struct {
	kind int
	text string // of a word or quoted string
	char rune   // of a jaasChar
	pos  int    // byte offset of its start
}

func (t jaasToken) hasText() bool { return t.kind == jaasWord || t.kind == jaasQuoted }

// jaasTokenizer is java.io.StreamTokenizer's default syntax (whitespace
// 0..' ', letters and 160..0xFFFF word characters, numbers parsed, " and
// ' quotes, '/' a comment character) with Kafka's additions:
// slashSlashComments, slashStarComments, and '-', '_', '$' word
// characters.
type jaasTokenizer struct {
	s string
	i int
}

func jaasWordStart(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '$' || r >= 160
}

func jaasNumeric(r rune) bool { return r >= '0' && r <= '9' || r == '.' || r == '-' }

// peek is the rune at i and its size; size 0 at the end.
func (z *jaasTokenizer) peek() (rune, int) {
	if z.i >= len(z.s) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(z.s[z.i:])
}

func (z *jaasTokenizer) read() rune {
	r, n := z.peek()
	z.i += n
	return r
}

func (z *jaasTokenizer) skipLine() {
	for {
		r, n := z.peek()
		if n == 0 || r == '\n' || r == '\r' {
			return
		}
		z.i += n
	}
}

func (z *jaasTokenizer) next() (jaasToken, error) {
	for {
		r, n := z.peek()
		for n > 0 && r <= ' ' {
			z.i += n
			r, n = z.peek()
		}
		start := z.i
		if n == 0 {
			return jaasToken{kind: jaasEOF, pos: start}, nil
		}
		z.i += n
		switch {
		case jaasNumeric(r):
			if r == '-' {
				if c, _ := z.peek(); c != '.' && (c < '0' || c > '9') {
					return jaasToken{kind: jaasChar, char: '-', pos: start}, nil
				}
			} else {
				z.i = start
			}
			dot := false
			for {
				c, m := z.peek()
				if c == '.' && !dot {
					dot = true
				} else if c < '0' || c > '9' {
					break
				}
				z.i += m
			}
			return jaasToken{kind: jaasNumber, pos: start}, nil
		case jaasWordStart(r):
			for {
				c, m := z.peek()
				if m == 0 || !jaasWordStart(c) && !jaasNumeric(c) {
					break
				}
				z.i += m
			}
			return jaasToken{kind: jaasWord, text: z.s[start:z.i], pos: start}, nil
		case r == '"' || r == '\'':
			text, err := z.quoted(r, start)
			if err != nil {
				return jaasToken{}, err
			}
			return jaasToken{kind: jaasQuoted, text: text, pos: start}, nil
		case r == '/':
			switch z.read() {
			case '*':
				// To the first "*/" after "/*" ("/*/" does not close);
				// unclosed, it runs to the end.
				prev := rune(0)
				for {
					c := z.read()
					if c < 0 {
						return jaasToken{kind: jaasEOF, pos: z.i}, nil
					}
					if c == '/' && prev == '*' {
						break
					}
					prev = c
				}
			case -1:
				return jaasToken{kind: jaasEOF, pos: z.i}, nil
			default:
				// "//", or '/' alone: Java's comment character too. The
				// comment runs to the end of the line counted from the
				// character after the '/', even if that one ended its line
				// (then the next line is skipped too, as in Java).
				z.skipLine()
			}
			continue
		default:
			return jaasToken{kind: jaasChar, char: r, pos: start}, nil
		}
	}
}

// quoted reads a string whose opening quote q is read, as StreamTokenizer:
// to the next q; an escape takes the character after the backslash,
// whatever it is.
func (z *jaasTokenizer) quoted(q rune, start int) (string, error) {
	var b strings.Builder
	unterminated := func() error {
		line := 1 + strings.Count(z.s[:start], "\n")
		return fmt.Errorf("jaas: line %d: quoted string not terminated on its line", line)
	}
	for {
		r := z.read()
		switch {
		case r < 0 || r == '\n' || r == '\r':
			return "", unterminated()
		case r == q:
			return b.String(), nil
		case r != '\\':
			b.WriteRune(r)
			continue
		}
		c := z.read()
		switch {
		case c < 0:
			return "", unterminated()
		case c >= '0' && c <= '7':
			v := c - '0'
			if d, _ := z.peek(); d >= '0' && d <= '7' {
				z.i++
				v = v<<3 + d - '0'
				if e, _ := z.peek(); e >= '0' && e <= '7' && c <= '3' {
					z.i++
					v = v<<3 + e - '0'
				}
			}
			b.WriteRune(v)
		default:
			switch c {
			case 'a':
				c = 0x7
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'v':
				c = '\v'
			}
			b.WriteRune(c)
		}
	}
}
