package auth

import (
	"maps"
	"reflect"
	"strings"
	"testing"
)

// TestParseJAAS: Kafka's documented sasl.jaas.config values, and what
// java.io.StreamTokenizer makes of quotes, escapes, words and comments.
func TestParseJAAS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     JAAS
	}{
		{"plain broker, several lines", `org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="admin-secret"
    user_admin="admin-secret"
    user_alice="alice-secret";`, JAAS{
			LoginModule: "org.apache.kafka.common.security.plain.PlainLoginModule", Flag: "required",
			Options: map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"},
		}},
		{"plain broker, one line", `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`, JAAS{
			LoginModule: "org.apache.kafka.common.security.plain.PlainLoginModule", Flag: "required",
			Options: map[string]string{"username": "admin", "password": "admin-secret", "user_admin": "admin-secret", "user_alice": "alice-secret"},
		}},
		{"scram, no options", "org.apache.kafka.common.security.scram.ScramLoginModule required;", JAAS{
			LoginModule: "org.apache.kafka.common.security.scram.ScramLoginModule", Flag: "required", Options: map[string]string{},
		}},
		{"scram client", "org.apache.kafka.common.security.scram.ScramLoginModule required\n\tusername=\"admin\"\r\n\tpassword=\"admin-secret\" ;\n", JAAS{
			LoginModule: "org.apache.kafka.common.security.scram.ScramLoginModule", Flag: "required",
			Options: map[string]string{"username": "admin", "password": "admin-secret"},
		}},
		{"flag in any case", "M REQUISITE;", JAAS{LoginModule: "M", Flag: "requisite", Options: map[string]string{}}},
		{"flag mixed case", "M Sufficient;", JAAS{LoginModule: "M", Flag: "sufficient", Options: map[string]string{}}},
		{"flag quoted", `"a b" 'optional' ;`, JAAS{LoginModule: "a b", Flag: "optional", Options: map[string]string{}}},
		{"escapes", `M required p="a\"b\\c\n\t\r\b\f\a\v\q\'" o="\101\0\08\377\477\1234";`, JAAS{LoginModule: "M", Flag: "required",
			Options: map[string]string{"p": "a\"b\\c\n\t\r\b\f\x07\vq'", "o": "A\x00\x008\u00ff'7S4"}}},
		{"escaped line end", "M required p=\"a\\\nb\";", JAAS{LoginModule: "M", Flag: "required", Options: map[string]string{"p": "a\nb"}}},
		{"single quotes", `M required p='say "hi"' q='';`, JAAS{LoginModule: "M", Flag: "required", Options: map[string]string{"p": `say "hi"`, "q": ""}}},
		{"quoted keys, spaces around =", `M required "user_bob smith" = "pw"  user_x	=	'y';`, JAAS{LoginModule: "M", Flag: "required",
			Options: map[string]string{"user_bob smith": "pw", "user_x": "y"}}},
		{"unquoted words", `M required username=admin password=admin-secret.v2 $k=_x9 ключ=значение;`, JAAS{LoginModule: "M", Flag: "required",
			Options: map[string]string{"username": "admin", "password": "admin-secret.v2", "$k": "_x9", "ключ": "значение"}}},
		{"comments", "// the broker's users\nM /* flag: */ required /* a=\"b\"; */ a=\"/*x*/\" // c=\"d\";\n b=\"e\"; // done", JAAS{LoginModule: "M", Flag: "required",
			Options: map[string]string{"a": "/*x*/", "b": "e"}}},
		// '/' alone comments out the rest of its line, and when the
		// character after it ends the line, the next line too.
		{"slash comment", "M required / a=\"b\"\n c=\"d\" /\n e=\"f\"\n;", JAAS{LoginModule: "M", Flag: "required",
			Options: map[string]string{"c": "d"}}},
		{"last value of a key wins", `M required k="1" k="2";`, JAAS{LoginModule: "M", Flag: "required", Options: map[string]string{"k": "2"}}},
		{"no space before ;", `M required k="v";`, JAAS{LoginModule: "M", Flag: "required", Options: map[string]string{"k": "v"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseJAAS(tc.in)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseJAAS = %#v, %v; want %#v", got, err, tc.want)
			}
			again, err := ParseJAAS(got.encode())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("re-parse of %q = %#v, %v", got.encode(), again, err)
			}
		})
	}
}

// TestParseJAASRefusals: what ParseJAAS refuses, with errors that name no
// value, nor a name that may be a piece of one.
func TestParseJAASRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty", "", "jaas: login module not specified"},
		{"only comments", "// x=\"s3cr3t\"\n/* s3cr3t */", "jaas: login module not specified"},
		{"missing ;", `org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="s3cr3t"`,
			"jaas: line 1, column 85: login module entry not terminated by ';'"},
		{"; inside the quotes", `M required user_admin="s3cr3t;"`, "jaas: line 1, column 32: login module entry not terminated by ';'"},
		{"two modules", "M required user_a=\"s3cr3t\";\nN required;", "jaas: the value contains 2 login modules, should be 1"},
		{"two modules, second broken", "M required user_a=\"s3cr3t\";\nN;", "jaas: line 2, column 2: invalid login module control flag (want required, requisite, sufficient or optional)"},
		{"bad flag", `M requird user_a="s3cr3t";`, "jaas: line 1, column 3: invalid login module control flag (want required, requisite, sufficient or optional)"},
		{"flag a value", `M "s3cr3t";`, "jaas: line 1, column 3: invalid login module control flag (want required, requisite, sufficient or optional)"},
		{"no flag", "M", "jaas: line 1, column 2: login module control flag not specified"},
		{"flag missing before options", `M user_a="s3cr3t";`, "jaas: line 1, column 3: invalid login module control flag (want required, requisite, sufficient or optional)"},
		{"no module", `required user_a="s3cr3t";`, "jaas: line 1, column 10: invalid login module control flag (want required, requisite, sufficient or optional)"},
		{"module not a name", `; required;`, "jaas: line 1, column 1: login module class name expected"},
		{"empty module", `"" required;`, "jaas: line 1, column 1: login module class name expected"},
		{"unterminated quote", `M required user_a="s3cr3t;`, "jaas: line 1: quoted string not terminated on its line"},
		{"unterminated quote at line end", "M required\n user_a=\"s3cr3t\n\";", "jaas: line 2: quoted string not terminated on its line"},
		{"unterminated escape", `M required user_a="s3cr3t\`, "jaas: line 1: quoted string not terminated on its line"},
		{"value missing", `M required user_a=;`, "jaas: line 1, column 19: option 1: value not specified (a word or a quoted string)"},
		{"= missing", `M required user_a "s3cr3t";`, "jaas: line 1, column 12: option 1: value not specified (want name=value)"},
		{"value with a space", `M required user_a="x" password=s3cr3t s3cr3t2;`, "jaas: line 1, column 39: option 3: value not specified (want name=value)"},
		{"value with a slash", `M required password=s3cr3t/x;`, "jaas: line 1, column 30: login module entry not terminated by ';'"},
		{"numeric value", `M required user_a=12345;`, "jaas: line 1, column 19: option 1: value not specified (a word or a quoted string)"},
		{"value starting with -", `M required user_a=-s3cr3t;`, "jaas: line 1, column 19: option 1: value not specified (a word or a quoted string)"},
		{"name missing", `M required ="s3cr3t";`, "jaas: line 1, column 12: option 1: name expected (a word or a quoted string)"},
		{"numeric name", `M required 1s3cr3t="x";`, "jaas: line 1, column 12: option 1: name expected (a word or a quoted string)"},
		{"comma separated", `M required a="s3cr3t", b="c";`, "jaas: line 1, column 22: option 2: name expected (a word or a quoted string)"},
		{"invalid UTF-8", "M required a=\"s3cr3t\xff\";", "jaas: not valid UTF-8"},
		{"unclosed block comment", `M required a="s3cr3t" /* ;`, "jaas: line 1, column 27: login module entry not terminated by ';'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			j, err := ParseJAAS(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("ParseJAAS = %#v, %v; want error %q", j, err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error %q tells a secret", err)
			}
		})
	}
}

// TestPlainUsers: the user_ options of a PlainLoginModule entry.
func TestPlainUsers(t *testing.T) {
	t.Parallel()
	j, err := ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required
    username="admin"
    password="admin-secret"
    user_admin="admin-secret"
    user_alice="alice-secret"
    user_="nobody"
    "user_bob smith"="b\"s";`)
	if err != nil {
		t.Fatal(err)
	}
	users, err := j.PlainUsers()
	if want := map[string]string{"admin": "admin-secret", "alice": "alice-secret", "bob smith": `b"s`}; err != nil || !maps.Equal(users, want) {
		t.Fatalf("PlainUsers = %q, %v", users, err)
	}
	j, err = ParseJAAS(`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`)
	if err != nil {
		t.Fatal(err)
	}
	if users, err := j.PlainUsers(); err != nil || users == nil || len(users) != 0 {
		t.Fatalf("PlainUsers = %q, %v", users, err)
	}
	j, err = ParseJAAS(`org.apache.kafka.common.security.scram.ScramLoginModule required user_admin="admin-secret";`)
	if err != nil {
		t.Fatal(err)
	}
	users, err = j.PlainUsers()
	if want := `jaas: PLAIN users come from login module org.apache.kafka.common.security.plain.PlainLoginModule, not "org.apache.kafka.common.security.scram.ScramLoginModule"`; err == nil || err.Error() != want || users != nil {
		t.Fatalf("PlainUsers = %q, %v; want error %q", users, err, want)
	}
}

// FuzzParseJAAS: any value parses or fails without panicking; a parsed
// one is a single well-formed entry, and written back it parses the same.
func FuzzParseJAAS(f *testing.F) {
	for _, seed := range []string{
		"org.apache.kafka.common.security.plain.PlainLoginModule required\n username=\"admin\"\n password=\"admin-secret\"\n user_admin=\"admin-secret\";",
		"org.apache.kafka.common.security.scram.ScramLoginModule required;",
		`M required p="a\"b\\c\n\t\101\477" q='x' r=w-1.2;`,
		"// c\nM /* c */ OPTIONAL / x\n a=b;",
		"M required a=\"b\";N optional;",
		`M required a="`, "", "-1.5 .2 $a _b ;=", "M required k=\"\\",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseJAAS(s)
		if err != nil {
			return
		}
		switch j.Flag {
		case "required", "requisite", "sufficient", "optional":
		default:
			t.Fatalf("flag %q", j.Flag)
		}
		if j.LoginModule == "" || j.Options == nil {
			t.Fatalf("%#v", j)
		}
		again, err := ParseJAAS(j.encode())
		if err != nil || !reflect.DeepEqual(again, j) {
			t.Fatalf("ParseJAAS(%q) = %#v; its encoding %q parses as %#v, %v", s, j, j.encode(), again, err)
		}
	})
}
