package config

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated sections of docs/configuration.md")

const docsPath = "../../docs/configuration.md"

// TestDocsUpToDate fails when the tables in docs/configuration.md differ from
// the definitions. Fix with: go test ./internal/config -run TestDocsUpToDate -update
func TestDocsUpToDate(t *testing.T) {
	raw, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	want := doc
	for _, s := range []struct{ name, body string }{
		{"broker", brokerTable()},
		{"topic", topicTable()},
		{"ignored", ignoredList()},
	} {
		want, err = replaceSection(want, s.name, s.body)
		if err != nil {
			t.Fatal(err)
		}
	}
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(docsPath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s is out of date with the config definitions; run: go test ./internal/config -run TestDocsUpToDate -update", docsPath)
}

// replaceSection replaces the text between the markers of a generated
// section, keeping everything else of the hand-written document.
func replaceSection(doc, name, body string) (string, error) {
	begin := fmt.Sprintf("<!-- BEGIN GENERATED %s: do not edit; see internal/config/docs_test.go -->\n", name)
	end := fmt.Sprintf("<!-- END GENERATED %s -->", name)
	i := strings.Index(doc, begin)
	j := strings.Index(doc, end)
	if i < 0 || j < i {
		return "", fmt.Errorf("%s: markers of section %q not found:\n%s...\n%s", docsPath, name, begin, end)
	}
	return doc[:i+len(begin)] + body + doc[j:], nil
}

func brokerTable() string {
	var b strings.Builder
	b.WriteString("| Name | Type | Default | Valid values | Update mode | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, d := range BrokerDefs() {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			d.Name, d.Type, defaultCell(d), rulesCell(d), d.Mode, describeCell(d))
	}
	return b.String()
}

func topicTable() string {
	var b strings.Builder
	b.WriteString("| Name | Type | Default | Valid values | Broker default from | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, d := range TopicDefs() {
		syn := "—"
		if len(d.Synonyms) > 0 {
			syn = "`" + strings.Join(d.Synonyms, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			d.Name, d.Type, defaultCell(d), rulesCell(d), syn, describeCell(d))
	}
	return b.String()
}

func ignoredList() string {
	names, prefixes := IgnoredBrokerConfigs()
	sort.Strings(names)
	sort.Strings(prefixes)
	var b strings.Builder
	b.WriteString("Ignored by name:\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "- `%s`\n", n)
	}
	b.WriteString("\nIgnored by prefix (every key starting with):\n\n")
	for _, p := range prefixes {
		fmt.Fprintf(&b, "- `%s`\n", p)
	}
	return b.String()
}

func defaultCell(d *Def) string {
	s := "null"
	if !d.Null {
		s = "`" + d.Default + "`"
		if d.Default == "" {
			s = `""`
		}
	}
	if d.KafkaDefault != "" {
		s += " (Kafka: " + d.KafkaDefault + ")"
	}
	return cell(s)
}

func rulesCell(d *Def) string {
	if d.Rule == nil {
		return ""
	}
	return cell("`" + d.Rule.String() + "`")
}

func describeCell(d *Def) string {
	s := d.Doc
	if d.Note != "" {
		s += " **samsa:** " + d.Note
	}
	return cell(s)
}

// cell escapes what would break a Markdown table row.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
