package binary

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportTemplate inspects the index template `eventsapibeat export
// template` prints: the fields Elasticsearch must not guess are typed.
func TestExportTemplate(t *testing.T) {
	home := t.TempDir()
	// export reads the configuration file, though the template does not
	// depend on it.
	if err := os.WriteFile(filepath.Join(home, "eventsapibeat.yml"), []byte("output.console: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binaryPath, "export", "template", "--es.version", "9.3.0", "--path.home", home).Output()
	if err != nil {
		t.Fatalf("export template: %v", err)
	}
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
	lookup := func(path string) map[string]any {
		props := tmpl.Template.Mappings.Properties
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
	cases := map[string]string{
		"@timestamp":                       "date",
		"event.created":                    "date",
		"source.ip":                        "ip",
		"related.ip":                       "ip",
		"source.geo.location":              "geo_point",
		"user.id":                          "keyword",
		"user.target.email":                "keyword",
		"host.os.name":                     "keyword",
		"organization.id":                  "keyword",
		"onepassword.aux_id":               "long",
		"onepassword.used_version":         "long",
		"onepassword.session.login_time":   "date",
		"onepassword.uuid":                 "keyword",
		"onepassword.client.app_name":      "keyword",
		"onepassword.details.value":        "keyword",
		"onepassword.object_details.email": "keyword",
		"os.name":                          "alias",
		"os.version":                       "alias",
		"geo.location":                     "alias",
		"geo.country_name":                 "alias",
	}
	for path, want := range cases {
		f := lookup(path)
		if f == nil {
			t.Errorf("%s: not in the template", path)
			continue
		}
		if got, _ := f["type"].(string); got != want {
			t.Errorf("%s: type %q, want %q", path, got, want)
		}
	}
	if f := lookup("os.name"); f != nil && f["path"] != "host.os.name" {
		t.Errorf("os.name aliases %v, want host.os.name", f["path"])
	}
}
