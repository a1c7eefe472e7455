package binary

import (
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// templateESVersion is the Elasticsearch and Kibana version the exported template and
// index pattern are built for (the beat's own version, 3.0.0, would make
// libbeat leave out ILM and field aliases).
const templateESVersion = "9.3.0"

// mappings is the properties tree of an index template.
type mappings map[string]any

// exportTemplate runs `eventsapibeat export template` and returns the
// template's mappings.
func exportTemplate(t *testing.T) (props mappings, raw map[string]any) {
	t.Helper()
	out := export(t, "template")
	var tmpl struct {
		Template struct {
			Mappings struct {
				Properties map[string]any `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(out, &tmpl); err != nil {
		t.Fatalf("template is not JSON: %v", err)
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	return tmpl.Template.Mappings.Properties, raw
}

// export runs `eventsapibeat export <what>` for templateESVersion.
func export(t *testing.T, what string) []byte {
	t.Helper()
	home := t.TempDir()
	// export reads the configuration file, though the template does not
	// depend on it.
	if err := os.WriteFile(filepath.Join(home, "eventsapibeat.yml"), []byte("output.console: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binaryPath, "export", what, "--es.version", templateESVersion, "--path.home", home)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("export %s: %v\n%s", what, err, stderr.String())
	}
	return out
}

// field returns the mapping of a dotted field path, or nil.
func (m mappings) field(path string) map[string]any {
	props := map[string]any(m)
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, _ := props[p].(map[string]any)
		if f == nil {
			return nil
		}
		if i == len(parts)-1 {
			return f
		}
		props, _ = f["properties"].(map[string]any)
	}
	return nil
}

// typeOf returns a field's mapped type, following an alias to its target.
func (m mappings) typeOf(path string) string {
	f := m.field(path)
	if f == nil {
		return ""
	}
	typ, _ := f["type"].(string)
	if typ == "alias" {
		target, _ := f["path"].(string)
		return m.typeOf(target)
	}
	if typ == "" && f["properties"] != nil {
		return "object"
	}
	return typ
}

// documentedTypes are the fields of the documents (README "Documents" and
// docs/ecs-mapping.md) with the type Elasticsearch must map them as: the ones
// that are not keyword are those a query, an aggregation or a map needs typed.
var documentedTypes = map[string]string{
	"@timestamp":                  "date",
	"event.created":               "date",
	"event.id":                    "keyword",
	"event.kind":                  "keyword",
	"event.module":                "keyword",
	"event.dataset":               "keyword",
	"event.action":                "keyword",
	"event.category":              "keyword",
	"event.type":                  "keyword",
	"event.outcome":               "keyword",
	"event.reason":                "keyword",
	"event.original":              "keyword",
	"error.message":               "text", // match_only_text needs an Elastic-licensed beat
	"user.id":                     "keyword",
	"user.email":                  "keyword",
	"user.full_name":              "keyword",
	"user.name":                   "keyword",
	"user.target.id":              "keyword",
	"user.target.email":           "keyword",
	"user.target.full_name":       "keyword",
	"user.target.name":            "keyword",
	"source.ip":                   "ip",
	"source.geo.city_name":        "keyword",
	"source.geo.region_name":      "keyword",
	"source.geo.country_name":     "keyword",
	"source.geo.country_iso_code": "keyword",
	"source.geo.location":         "geo_point",
	"related.user":                "keyword",
	"related.ip":                  "ip",
	"host.os.name":                "keyword",
	"host.os.version":             "keyword",
	"organization.id":             "keyword",

	"onepassword.uuid":                            "keyword",
	"onepassword.timestamp":                       "keyword",
	"onepassword.session_uuid":                    "keyword",
	"onepassword.type":                            "keyword",
	"onepassword.country":                         "keyword",
	"onepassword.details.value":                   "keyword",
	"onepassword.client.app_name":                 "keyword",
	"onepassword.client.app_version":              "keyword",
	"onepassword.client.platform_name":            "keyword",
	"onepassword.client.platform_version":         "keyword",
	"onepassword.client.ip_address":               "keyword",
	"onepassword.used_version":                    "long",
	"onepassword.vault_uuid":                      "keyword",
	"onepassword.item_uuid":                       "keyword",
	"onepassword.object_type":                     "keyword",
	"onepassword.object_uuid":                     "keyword",
	"onepassword.object_details.uuid":             "keyword",
	"onepassword.object_details.name":             "keyword",
	"onepassword.object_details.email":            "keyword",
	"onepassword.aux_id":                          "long",
	"onepassword.aux_uuid":                        "keyword",
	"onepassword.aux_info":                        "keyword",
	"onepassword.aux_details.uuid":                "keyword",
	"onepassword.aux_details.name":                "keyword",
	"onepassword.aux_details.email":               "keyword",
	"onepassword.actor_details.uuid":              "keyword",
	"onepassword.actor_details.name":              "keyword",
	"onepassword.actor_details.email":             "keyword",
	"onepassword.actor_details.user_type":         "keyword",
	"onepassword.actor_details.user_account_uuid": "keyword",
	"onepassword.session.uuid":                    "keyword",
	"onepassword.session.device_uuid":             "keyword",
	"onepassword.session.login_time":              "date",
	"onepassword.session.ip":                      "keyword",
	"onepassword.account_uuid":                    "keyword",
	"onepassword.actor_type":                      "keyword",
	"onepassword.actor_account_uuid":              "keyword",
	"onepassword.user_type":                       "keyword",
	"onepassword.user_account_uuid":               "keyword",
}

// legacyAliases are the names eventsapibeat 2.x documented (seed 001: os.*,
// the README's root geo.*) and the name Elastic's 1password integration
// queries by (data_stream.dataset), each with the field it must resolve to.
var legacyAliases = map[string]string{
	"os.name":              "host.os.name",
	"os.version":           "host.os.version",
	"geo.city_name":        "source.geo.city_name",
	"geo.region_name":      "source.geo.region_name",
	"geo.country_iso_code": "source.geo.country_iso_code",
	"geo.country_name":     "source.geo.country_name",
	"geo.location":         "source.geo.location",
	"data_stream.dataset":  "event.dataset",
}

// TestExportTemplate inspects the index template `eventsapibeat export
// template` prints: every documented field has its type, the legacy names are
// aliases of the fields that replaced them, and unknown onepassword.* fields
// cannot change the mapping.
func TestExportTemplate(t *testing.T) {
	props, _ := exportTemplate(t)
	for path, want := range documentedTypes {
		f := props.field(path)
		if f == nil {
			t.Errorf("%s: not in the template", path)
			continue
		}
		if got, _ := f["type"].(string); got != want {
			t.Errorf("%s: type %q, want %q", path, got, want)
		}
	}
	for alias, target := range legacyAliases {
		f := props.field(alias)
		if f == nil {
			t.Errorf("%s: not in the template", alias)
			continue
		}
		if f["type"] != "alias" || f["path"] != target {
			t.Errorf("%s = %v, want an alias of %s", alias, f, target)
		}
		if props.field(target) == nil {
			t.Errorf("%s: alias target %s is not mapped (Elasticsearch rejects the template)", alias, target)
		}
	}
	// Unknown API fields go under onepassword.*; dynamic: false keeps them
	// in _source without mapping them, so a value of an unexpected type
	// never gets a document rejected and the mapping does not grow.
	if op := props.field("onepassword"); op == nil || op["dynamic"] != false {
		t.Errorf("onepassword: dynamic = %v, want false", op["dynamic"])
	}
	// event.dataset: 1password.* (a wildcard query) needs a keyword.
	if got := props.typeOf("data_stream.dataset"); got != "keyword" {
		t.Errorf("data_stream.dataset resolves to %q, want keyword", got)
	}
}

// TestTemplateMapsDocuments: every field of the documents the modules write
// (their golden files: normal events, v2/MSP events, and API quirks) is mapped
// by the template with a type its value fits, or is an unknown API field
// under onepassword.*, which is kept but not indexed. event.dataset of every
// document matches the query event.dataset: 1password.*.
func TestTemplateMapsDocuments(t *testing.T) {
	props, _ := exportTemplate(t)
	goldens, err := filepath.Glob(filepath.Join("..", "..", "module", "*", "testdata", "*.golden.json"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden documents (%v)", err)
	}
	for _, file := range goldens {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := filepath.Base(file)
		for key, val := range doc {
			if strings.HasPrefix(key, "@metadata.") {
				continue // not indexed: the output uses it (_id, index name)
			}
			if err := fits(props, key, val); err != "" {
				t.Errorf("%s: %s", name, err)
			}
		}
		if ds, _ := doc["event.dataset"].(string); !strings.HasPrefix(ds, "1password.") {
			t.Errorf("%s: event.dataset %q does not match 1password.*", name, ds)
		}
	}
}

// fits explains why a flattened document key and its value would not be
// indexed as intended, or returns "".
func fits(props mappings, key string, val any) string {
	typ := props.typeOf(key)
	if typ == "" {
		// source.geo.location.lat/lon are the halves of a geo_point.
		if parent, leaf, ok := cutLast(key); ok && props.typeOf(parent) == "geo_point" && (leaf == "lat" || leaf == "lon") {
			if f, ok := val.(float64); !ok || math.IsNaN(f) {
				return key + ": not a number"
			}
			return ""
		}
		if strings.HasPrefix(key, "onepassword.") && underUnmappedObject(props, key) {
			return "" // an unknown API field: in _source, not indexed
		}
		return key + ": not in the template"
	}
	values, ok := val.([]any)
	if !ok {
		values = []any{val}
	}
	for _, v := range values {
		switch typ {
		case "keyword", "match_only_text", "text", "wildcard", "constant_keyword":
			if _, ok := v.(string); !ok {
				return key + ": a " + typ + " field holding a non-string"
			}
		case "ip":
			s, _ := v.(string)
			if _, err := netip.ParseAddr(s); err != nil {
				return key + ": not an IP address: " + s
			}
		case "date":
			s, _ := v.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return key + ": not a date: " + s
			}
		case "long":
			f, ok := v.(float64)
			if !ok || f != math.Trunc(f) {
				return key + ": not an integer"
			}
		default:
			return key + ": mapped as " + typ + ", which this test does not know"
		}
	}
	return ""
}

// underUnmappedObject reports whether a key that is not mapped lies inside
// an object (never under a mapped leaf, where Elasticsearch would reject the
// document).
func underUnmappedObject(props mappings, key string) bool {
	for parent, _, ok := cutLast(key); ok; parent, _, ok = cutLast(parent) {
		switch props.typeOf(parent) {
		case "object":
			return true
		case "":
			continue
		default:
			return false
		}
	}
	return false
}

func cutLast(path string) (parent, leaf string, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// TestExportIndexPattern: the Kibana index pattern (data view) that `setup
// --dashboards` loads is generated from the same fields: each field once
// (libbeat refuses duplicates), with the legacy aliases.
func TestExportIndexPattern(t *testing.T) {
	var pattern struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Title         string `json:"title"`
			TimeFieldName string `json:"timeFieldName"`
			Fields        string `json:"fields"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(export(t, "index-pattern"), &pattern); err != nil {
		t.Fatalf("index pattern is not JSON: %v", err)
	}
	if pattern.ID != "eventsapibeat-*" || pattern.Attributes.Title != "eventsapibeat-*" || pattern.Attributes.TimeFieldName != "@timestamp" {
		t.Errorf("index pattern %q titled %q on %q, want eventsapibeat-* on @timestamp", pattern.ID, pattern.Attributes.Title, pattern.Attributes.TimeFieldName)
	}
	var fields []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal([]byte(pattern.Attributes.Fields), &fields); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, f := range fields {
		if _, dup := kinds[f.Name]; dup {
			t.Errorf("%s is in the index pattern twice", f.Name)
		}
		kinds[f.Name] = f.Type
	}
	for name, want := range map[string]string{
		"os.name":             "string",
		"geo.location":        "geo_point",
		"data_stream.dataset": "string",
		"source.ip":           "ip",
		"source.geo.location": "geo_point",
		"onepassword.aux_id":  "number",
		"@timestamp":          "date",
	} {
		if kinds[name] != want {
			t.Errorf("index pattern: %s is %q, want %q", name, kinds[name], want)
		}
	}
}
