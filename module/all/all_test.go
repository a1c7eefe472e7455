package all_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/generator/fields"
	"github.com/elastic/beats/v7/libbeat/mapping"
	"github.com/elastic/beats/v7/libbeat/template"
	"github.com/elastic/elastic-agent-libs/logp/logptest"
	"github.com/elastic/elastic-agent-libs/mapstr"
	libversion "github.com/elastic/elastic-agent-libs/version"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/all"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
)

func TestTypes(t *testing.T) {
	types := all.Types()
	if len(types) < 3 {
		t.Fatalf("%d types", len(types))
	}
	seen := map[string]string{}
	unique := func(kind, v string) {
		if prev, ok := seen[kind+":"+v]; ok {
			t.Errorf("%s %q used twice (%s)", kind, v, prev)
		}
		seen[kind+":"+v] = v
	}
	for _, typ := range types {
		if err := typ.Validate(); err != nil {
			t.Error(err)
			continue
		}
		unique("Name", typ.Name)
		unique("ConfigKey", typ.ConfigKey)
		unique("Dataset", typ.Dataset)
		// Elastic's dataset names: 1password.<config key>.
		if typ.Dataset != "1password."+typ.ConfigKey {
			t.Errorf("%s: Dataset %q, want 1password.%s", typ.Name, typ.Dataset, typ.ConfigKey)
		}
		// Map works and names the type.
		ev, err := typ.Map([]byte(`{}`), mapcheck.Opts)
		if err != nil {
			t.Errorf("%s: Map({}): %v", typ.Name, err)
		}
		if ev.Meta["event_type"] != typ.Name {
			t.Errorf("%s: event_type %v", typ.Name, ev.Meta["event_type"])
		}
		if ds, _ := ev.Fields.GetValue("event.dataset"); ds != typ.Dataset {
			t.Errorf("%s: event.dataset %v", typ.Name, ds)
		}
	}
	// Types returns a new slice.
	a := all.Types()
	a[0] = module.Type{}
	if all.Types()[0].Name == "" {
		t.Error("Types shares its slice")
	}
}

// TestFieldsFiles: each type has module/<Name>/_meta/fields.yml with key
// <Name>, defining only the onepassword group (ECS fields come from libbeat
// and must not be redefined), and types that share a onepassword.* field
// define it identically.
func TestFieldsFiles(t *testing.T) {
	ecsPath, err := mapcheck.ECSFieldsPath()
	if err != nil {
		t.Fatal(err)
	}
	ecs, err := mapcheck.LoadDefs(ecsPath)
	if err != nil {
		t.Fatal(err)
	}
	shared := map[string]string{} // path -> "type (file)"
	for _, typ := range all.Types() {
		path := filepath.Join("..", typ.Name, "_meta", "fields.yml")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", typ.Name, err)
			continue
		}
		fl, err := mapping.LoadFields(b)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if !strings.HasPrefix(string(b), "- key: "+typ.Name+"\n") {
			t.Errorf("%s does not start with '- key: %s'", path, typ.Name)
		}
		for _, f := range fl {
			if f.Name != module.FieldSet {
				t.Errorf("%s defines %s: only the %s group belongs here", path, f.Name, module.FieldSet)
			}
		}
		defs, err := mapcheck.LoadDefs(path)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range defs {
			if _, clash := ecs[k]; clash {
				t.Errorf("%s redefines the ECS field %s", path, k)
			}
			if prev, ok := shared[k]; ok && !strings.HasPrefix(prev, v+" ") {
				t.Errorf("%s: %s is %s here but %s", path, k, v, prev)
			}
			shared[k] = v + " (" + typ.Name + ")"
		}
	}
}

// TestTemplate builds the beat's global fields.yml as libbeat's global_fields
// generator does (libbeat ECS and common fields, the beat's _meta/fields.yml,
// then module/*/_meta/fields.yml) and the index template from it: the legacy
// aliases must override libbeat's root os.* and geo.*, and the onepassword
// fields must get their types.
func TestTemplate(t *testing.T) {
	beatsDir, err := mapcheck.BeatsDir()
	if err != nil {
		t.Fatal(err)
	}
	moduleDir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := fields.CollectModuleFiles(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(all.Types()) {
		t.Errorf("collected %d module fields.yml files, want %d", len(files), len(all.Types()))
	}
	var buf bytes.Buffer
	if err := fields.Generate(beatsDir, filepath.Dir(moduleDir), files, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := mapping.LoadFields(buf.Bytes()); err != nil {
		t.Fatalf("generated fields.yml is invalid: %v", err)
	}
	ver := libversion.MustNew("9.3.0")
	tmpl, err := template.New(false, "9.3.0", "eventsapibeat", false, *ver,
		template.TemplateConfig{Enabled: true, Name: "eventsapibeat", Pattern: "eventsapibeat"}, false,
		logptest.NewTestingLogger(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.LoadBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	props := func(path string) mapstr.M {
		t.Helper()
		key := "template.mappings.properties." + strings.ReplaceAll(path, ".", ".properties.")
		v, err := out.GetValue(key)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		m, _ := v.(mapstr.M)
		return m
	}
	for path, want := range map[string]string{
		"os.name": "host.os.name", "os.version": "host.os.version",
		"geo.city_name": "source.geo.city_name", "geo.region_name": "source.geo.region_name",
		"geo.country_iso_code": "source.geo.country_iso_code", "geo.country_name": "source.geo.country_name",
		"geo.location": "source.geo.location",
	} {
		if m := props(path); m["type"] != "alias" || m["path"] != want {
			t.Errorf("%s = %v, want an alias of %s", path, m, want)
		}
	}
	for path, want := range map[string]string{
		"onepassword.used_version":         "long",
		"onepassword.aux_id":               "long",
		"onepassword.session.login_time":   "date",
		"onepassword.details.value":        "keyword",
		"onepassword.client.ip_address":    "keyword",
		"onepassword.object_details.email": "keyword",
		"onepassword.user_type":            "keyword",
		"source.ip":                        "ip",
		"source.geo.location":              "geo_point",
		"related.ip":                       "ip",
		"host.os.name":                     "keyword",
		"user.target.email":                "keyword",
		"organization.id":                  "keyword",
	} {
		if m := props(path); m["type"] != want {
			t.Errorf("%s = %v, want type %s", path, m, want)
		}
	}
}
