package console

import (
	"fmt"
	"html/template"
)

func parseTemplates() (*template.Template, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"ids":      joinIDs,
		"hasID":    containsID,
		"pathesc":  func(s string) string { return urlPathEscape(s) },
		"queryesc": urlQuery,
		"list":     func(s ...string) []string { return s },
	}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	return t, nil
}
