package module

import (
	"embed"
	"io/fs"
	"strings"
	"sync"

	"github.com/elastic/beats/v7/libbeat/mapping"
)

// The fields.yml of every event type. All types are written to the same
// index, so an unknown field of one type must not collide with the mapping
// another type gives the same onepassword.* name (say an audit event gaining
// a string "client", which sign-ins map as an object). Rest consults this
// schema; a new type's fields.yml is picked up without any edit here.
//
//go:embed */_meta/fields.yml
var typeFields embed.FS

var (
	schemaOnce sync.Once
	schema     map[string]string // onepassword-relative path -> type ("group" for objects)
)

// fieldType returns the mapping type the event types' fields.yml give to
// onepassword.<path>: a leaf type, "group" for an object, "" when undefined.
func fieldType(path string) string {
	schemaOnce.Do(loadSchema)
	return schema[path]
}

func loadSchema() {
	schema = map[string]string{}
	files, _ := fs.Glob(typeFields, "*/_meta/fields.yml")
	for _, f := range files {
		b, err := typeFields.ReadFile(f)
		if err != nil {
			continue
		}
		fields, err := mapping.LoadFields(b)
		if err != nil {
			continue // a broken fields.yml fails the tests of its type
		}
		for _, fl := range fields {
			if fl.Name == FieldSet {
				addSchema(fl.Fields, "")
			}
		}
	}
}

func addSchema(fields mapping.Fields, prefix string) {
	for _, f := range fields {
		path := joinPath(prefix, f.Name)
		// Dotted names define their parents as objects.
		for i := strings.IndexByte(path, '.'); i >= 0; i = nextDot(path, i) {
			if _, ok := schema[path[:i]]; !ok {
				schema[path[:i]] = "group"
			}
		}
		if f.Type == "group" || len(f.Fields) > 0 {
			schema[path] = "group"
			addSchema(f.Fields, path)
			continue
		}
		typ := f.Type
		if typ == "" {
			typ = "keyword"
		}
		schema[path] = typ
	}
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}
