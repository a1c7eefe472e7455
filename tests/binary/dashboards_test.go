package binary

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// kibanaDir is where the beat's Kibana saved objects live (built into the
// binary for setup --dashboards).
var kibanaDir = filepath.Join("..", "..", "_meta", "kibana", "7")

// indexPatternID is the id of the index pattern (data view) libbeat
// generates from the fields and imports before the dashboards.
const indexPatternID = "eventsapibeat-*"

// savedObject is a Kibana saved object as stored in _meta/kibana: the
// *JSON attributes are objects there (libbeat encodes them on import).
type savedObject struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Attributes map[string]any `json:"attributes"`
	References []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"references"`
}

func loadSavedObjects(t *testing.T) map[string]savedObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(kibanaDir, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no saved objects in %s (%v)", kibanaDir, err)
	}
	objects := map[string]savedObject{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var o savedObject
		if err := json.Unmarshal(data, &o); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// libbeat finds a referenced object at <type>/<id>.json.
		if want := filepath.Join(kibanaDir, o.Type, o.ID+".json"); f != want {
			t.Errorf("%s holds %s %s; libbeat looks for it at %s", f, o.Type, o.ID, want)
		}
		objects[o.Type+"/"+o.ID] = o
	}
	return objects
}

// kqlField matches the field of a KQL or Lucene clause (field:value).
var kqlField = regexp.MustCompile(`(?:^|[\s(])(?:NOT\s+)?([@A-Za-z_][\w.@]*)\s*:`)

// referencedFields lists the fields a saved object uses: aggregation and
// sort fields, saved-search columns, map geo, tooltip and style fields, and
// the fields of every query.
func referencedFields(v any) []string {
	var fields []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				walk(k, child)
			}
		case []any:
			for _, child := range x {
				walk(key, child)
			}
		case string:
			switch key {
			case "field", "sortField", "geoField", "columns", "tooltipProperties":
				if x != "" {
					fields = append(fields, x)
				}
			case "query":
				for _, m := range kqlField.FindAllStringSubmatch(x, -1) {
					fields = append(fields, m[1])
				}
			}
		}
	}
	walk("", v)
	// Map styles name their field as {"field": {"name": "event.outcome"}}.
	var styles func(v any)
	styles = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if f, ok := x["field"].(map[string]any); ok {
				if name, ok := f["name"].(string); ok {
					fields = append(fields, name)
				}
			}
			for _, child := range x {
				styles(child)
			}
		case []any:
			for _, child := range x {
				styles(child)
			}
		}
	}
	styles(v)
	// Saved searches sort as [["@timestamp", "desc"]].
	if m, ok := v.(map[string]any); ok {
		if sorts, ok := m["sort"].([]any); ok {
			for _, s := range sorts {
				if pair, ok := s.([]any); ok && len(pair) > 0 {
					if f, ok := pair[0].(string); ok {
						fields = append(fields, f)
					}
				}
			}
		}
	}
	return fields
}

// TestSavedObjectsUseTemplateFields: every field a dashboard, visualization,
// saved search or map uses is mapped by the index template (so Kibana finds
// it in the data view), every reference resolves, and every index pattern
// reference is the one libbeat generates.
func TestSavedObjectsUseTemplateFields(t *testing.T) {
	props, _ := exportTemplate(t)
	objects := loadSavedObjects(t)
	dashboards := 0
	for key, o := range objects {
		if o.Type == "dashboard" {
			dashboards++
		}
		if title, _ := o.Attributes["title"].(string); title == "" {
			t.Errorf("%s has no title", key)
		}
		used := referencedFields(o.Attributes)
		if len(used) == 0 {
			t.Errorf("%s uses no field at all (the test's extraction is broken?)", key)
		}
		for _, f := range used {
			if props.field(f) == nil {
				t.Errorf("%s uses %s, which is not in the index template", key, f)
			}
		}
		names := map[string]bool{}
		for _, r := range o.References {
			names[r.Name] = true
			if r.Type == "index-pattern" {
				if r.ID != indexPatternID {
					t.Errorf("%s refers to index pattern %q, want %q (the one setup --dashboards loads)", key, r.ID, indexPatternID)
				}
				continue
			}
			if _, ok := objects[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s refers to %s %s, which is not in %s", key, r.Type, r.ID, kibanaDir)
			}
		}
		// Every xxxRefName must name a reference.
		var refNames func(v any)
		refNames = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, child := range x {
					if s, ok := child.(string); ok && strings.HasSuffix(k, "RefName") && !names[s] && !names[panelRef(x, s)] {
						t.Errorf("%s: %s %q names no reference", key, k, s)
					}
					refNames(child)
				}
			case []any:
				for _, child := range x {
					refNames(child)
				}
			}
		}
		refNames(o.Attributes)
	}
	if dashboards != 3 {
		t.Errorf("%d dashboards, want one per stream", dashboards)
	}
}

// panelRef is the reference name of a dashboard panel: <panelIndex>:<panelRefName>.
func panelRef(panel map[string]any, refName string) string {
	idx, _ := panel["panelIndex"].(string)
	return idx + ":" + refName
}

// elasticIntegrationFields are the fields the saved searches,
// visualizations and maps of Elastic's 1password integration
// (elastic/integrations, packages/1password/kibana) query, aggregate, sort
// and show, with the datasets whose objects use them. Their queries are
// data_stream.dataset:1password.<dataset> and event.module:1password.
var elasticIntegrationFields = map[string][]string{
	"@timestamp":                  {"signin_attempts", "item_usages", "audit_events"},
	"data_stream.dataset":         {"signin_attempts", "item_usages", "audit_events"},
	"event.module":                {"signin_attempts", "item_usages", "audit_events"},
	"event.action":                {"signin_attempts", "item_usages", "audit_events"},
	"user.id":                     {"signin_attempts", "item_usages", "audit_events"},
	"user.email":                  {"signin_attempts", "item_usages"},
	"user.full_name":              {"signin_attempts", "item_usages"},
	"onepassword.type":            {"signin_attempts"},
	"onepassword.client.app_name": {"signin_attempts", "item_usages"},
	"onepassword.vault_uuid":      {"item_usages"},
	"onepassword.item_uuid":       {"item_usages"},
	"onepassword.object_type":     {"audit_events"},
	"onepassword.object_uuid":     {"audit_events"},
	"source.geo.country_iso_code": {"signin_attempts", "item_usages", "audit_events"},
	"source.geo.location":         {"signin_attempts", "item_usages", "audit_events"},
}

// TestElasticIntegrationQueriesWork: the fields Elastic's 1password
// dashboards use are in the template, searchable and aggregatable, and our
// documents of each dataset fill them, so those dashboards (pointed at the
// eventsapibeat data view) show our data.
func TestElasticIntegrationQueriesWork(t *testing.T) {
	props, _ := exportTemplate(t)
	docs := map[string][]map[string]any{}
	for _, ds := range []string{"signin_attempts", "item_usages", "audit_events"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "module", strings.ReplaceAll(ds, "_", ""), "testdata", "*.golden.json"))
		if len(files) == 0 {
			t.Fatalf("no golden documents for %s", ds)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			docs[ds] = append(docs[ds], doc)
		}
	}
	for field, datasets := range elasticIntegrationFields {
		switch typ := props.typeOf(field); typ {
		case "keyword", "date", "geo_point":
		default:
			t.Errorf("%s is mapped as %q; Elastic's dashboards need it searchable and aggregatable", field, typ)
		}
		for _, ds := range datasets {
			found := false
			for _, doc := range docs[ds] {
				if docHas(props, doc, field) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("no %s document carries %s, which Elastic's %s objects use", ds, field, ds)
			}
		}
	}
	// data_stream.dataset:1password.<dataset> and event.dataset: 1password.*
	// match through the alias.
	for ds, list := range docs {
		for _, doc := range list {
			if doc["event.dataset"] != "1password."+ds || doc["event.module"] != "1password" {
				t.Errorf("%s document with event.dataset %v, event.module %v", ds, doc["event.dataset"], doc["event.module"])
			}
		}
	}
}

// docHas reports whether a flattened document fills field, following aliases
// (data_stream.dataset is event.dataset) and geo_point halves.
func docHas(props mappings, doc map[string]any, field string) bool {
	if f := props.field(field); f != nil && f["type"] == "alias" {
		field, _ = f["path"].(string)
	}
	if _, ok := doc[field]; ok {
		return true
	}
	_, lat := doc[field+".lat"]
	return lat
}

// fakeKibana answers the two APIs `setup --dashboards` uses, as Kibana 9
// does: GET /api/status (the version) and POST /api/saved_objects/_import
// (multipart ndjson). Like Kibana, an import whose objects refer to an object
// that is neither in the request nor already stored fails with
// success: false (libbeat does not check that; the test does).
type fakeKibana struct {
	mu      sync.Mutex
	stored  map[string]map[string]any // type/id -> object
	imports int
	errors  []string
}

func (k *fakeKibana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/api/status":
		fmt.Fprint(w, `{"name":"kibana","version":{"number":"9.3.0","build_snapshot":false,"build_flavor":"default"},"status":{"overall":{"level":"available"}}}`)
	case r.Method == http.MethodPost && r.URL.Path == "/api/saved_objects/_import":
		k.importObjects(w, r)
	default:
		k.fail(fmt.Sprintf("unexpected request %s %s", r.Method, r.URL))
		http.NotFound(w, r)
	}
}

func (k *fakeKibana) fail(msg string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errors = append(k.errors, msg)
}

func (k *fakeKibana) importObjects(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("kbn-xsrf") == "" {
		k.fail("import without the kbn-xsrf header")
		http.Error(w, `{"statusCode":400,"message":"Request must contain a kbn-xsrf header."}`, http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("overwrite") != "true" {
		k.fail("import without overwrite=true")
	}
	file, header, err := r.FormFile("file")
	if err != nil {
		k.fail("import without a file part: " + err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	defer file.Close()
	if !strings.HasSuffix(header.Filename, ".ndjson") {
		k.fail("import of " + header.Filename + ": Kibana only accepts .ndjson")
	}
	var batch []map[string]any
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var o map[string]any
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			k.fail(fmt.Sprintf("import of %s: a line is not JSON: %v", header.Filename, err))
			continue
		}
		batch = append(batch, o)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.imports++
	inBatch := map[string]bool{}
	for _, o := range batch {
		inBatch[fmt.Sprint(o["type"], "/", o["id"])] = true
	}
	var errs []string
	for _, o := range batch {
		key := fmt.Sprint(o["type"], "/", o["id"])
		// Kibana stores the *JSON attributes as strings.
		if attrs, ok := o["attributes"].(map[string]any); ok {
			for name, v := range attrs {
				if strings.HasSuffix(name, "JSON") {
					if _, isString := v.(string); !isString {
						errs = append(errs, key+": attribute "+name+" is not a JSON string")
					}
				}
			}
		}
		refs, _ := o["references"].([]any)
		for _, r := range refs {
			ref, _ := r.(map[string]any)
			target := fmt.Sprint(ref["type"], "/", ref["id"])
			if !inBatch[target] && k.stored[target] == nil {
				errs = append(errs, key+": missing reference "+target)
			}
		}
	}
	if len(errs) > 0 {
		k.errors = append(k.errors, errs...)
		fmt.Fprintf(w, `{"success":false,"successCount":0,"errors":%q}`, strings.Join(errs, "; "))
		return
	}
	for _, o := range batch {
		k.stored[fmt.Sprint(o["type"], "/", o["id"])] = o
	}
	fmt.Fprintf(w, `{"success":true,"successCount":%d}`, len(batch))
}

// TestSetupDashboards runs `eventsapibeat setup --dashboards` against a fake
// Kibana: the generated index pattern and every saved object built into the
// binary are imported, references first, and the temporary copy is removed.
// With setup.dashboards.index (index names changed, README "Index naming"),
// the data view and every reference to it follow.
func TestSetupDashboards(t *testing.T) {
	for _, tc := range []struct {
		name, index, pattern string
	}{
		{name: "default", pattern: indexPatternID},
		{name: "setup.dashboards.index", index: "1password-*", pattern: "1password-*"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kib := &fakeKibana{stored: map[string]map[string]any{}}
			srv := httptest.NewServer(kib)
			defer srv.Close()

			home := t.TempDir()
			tmp := t.TempDir()
			rest := "output.console: {}\nsetup.kibana.host: \"" + srv.URL + "\"\n"
			if tc.index != "" {
				rest += "setup.dashboards.index: \"" + tc.index + "\"\n"
			}
			cfg := writeMinimalConfig(t, home, rest)
			cmd := exec.Command(binaryPath, "setup", "--dashboards", "-c", cfg, "--path.home", home)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("setup --dashboards: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "Loaded dashboards") {
				t.Fatalf("setup --dashboards did not report loading the dashboards:\n%s", out)
			}
			kib.mu.Lock()
			defer kib.mu.Unlock()
			// The fake refuses references to objects it does not hold, so
			// no object still points at eventsapibeat-* when the data view
			// is renamed.
			if len(kib.errors) > 0 {
				t.Fatalf("Kibana would have refused the import:\n%s", strings.Join(kib.errors, "\n"))
			}
			var want []string
			for key := range loadSavedObjects(t) {
				want = append(want, key)
			}
			want = append(want, "index-pattern/"+tc.pattern)
			sort.Strings(want)
			if got := keys(kib.stored); !slices.Equal(got, want) {
				t.Fatalf("Kibana holds %v\nwant %v", got, want)
			}
			// The data view knows the legacy aliases (the fields a 2.x user
			// queries) and Elastic's data_stream.dataset.
			attrs, _ := kib.stored["index-pattern/"+tc.pattern]["attributes"].(map[string]any)
			if attrs["title"] != tc.pattern {
				t.Errorf("the data view's title is %v, want %s", attrs["title"], tc.pattern)
			}
			if fields, _ := attrs["fields"].(string); !strings.Contains(fields, `"name":"os.name"`) || !strings.Contains(fields, `"name":"data_stream.dataset"`) {
				t.Errorf("the imported index pattern lacks os.name or data_stream.dataset")
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("setup left %v in the temporary directory", left)
			}
		})
	}
}

// TestSetupDashboardsUserDirectory: setup.dashboards.directory set by the
// user wins over the built-in dashboards.
func TestSetupDashboardsUserDirectory(t *testing.T) {
	kib := &fakeKibana{stored: map[string]map[string]any{}}
	srv := httptest.NewServer(kib)
	defer srv.Close()

	home := t.TempDir()
	own := filepath.Join(home, "mine")
	dash := filepath.Join(own, "7", "dashboard")
	if err := os.MkdirAll(dash, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dash, "mine.json"), []byte(`{"id":"mine","type":"dashboard","attributes":{"title":"Mine","panelsJSON":[]},"references":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeMinimalConfig(t, home, "output.console: {}\nsetup.kibana.host: \""+srv.URL+"\"\nsetup.dashboards.directory: \""+own+"\"\n")
	out, err := exec.Command(binaryPath, "setup", "--dashboards", "-c", cfg, "--path.home", home).CombinedOutput()
	if err != nil {
		t.Fatalf("setup --dashboards: %v\n%s", err, out)
	}
	kib.mu.Lock()
	defer kib.mu.Unlock()
	if kib.stored["dashboard/mine"] == nil || kib.stored["dashboard/eventsapibeat-signin-attempts-dashboard"] != nil {
		t.Fatalf("with setup.dashboards.directory set, Kibana holds %v; want the user's dashboard only", keys(kib.stored))
	}
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// writeMinimalConfig writes <home>/eventsapibeat.yml: one stream with a
// token that passes validation (the commands that build the beat, such as
// setup and test, refuse a configuration without a runnable stream) and an
// API nobody answers, plus rest.
func writeMinimalConfig(t *testing.T, home, rest string) string {
	t.Helper()
	sim := newSimulator(t, simulator.Config{Seed: 5})
	token := issueToken(t, sim, "signinattempts")
	cfg := filepath.Join(home, "eventsapibeat.yml")
	content := fmt.Sprintf(`eventsapibeat:
  url: "http://127.0.0.1:1"
  signin_attempts:
    enabled: true
    auth_token: %q
    cursor_state_file: %q
`, token, filepath.Join(home, "signinattempts.state")) + rest
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestRunLoadsDashboards: with setup.dashboards.enabled: true, the beat
// loads the built-in dashboards when it starts, and removes its temporary
// copy when it stops.
func TestRunLoadsDashboards(t *testing.T) {
	kib := &fakeKibana{stored: map[string]map[string]any{}}
	srv := httptest.NewServer(kib)
	defer srv.Close()

	home := t.TempDir()
	tmp := t.TempDir()
	cfg := writeMinimalConfig(t, home, "output.file:\n  path: \""+filepath.Join(home, "out")+"\"\nsetup.kibana.host: \""+srv.URL+"\"\nsetup.dashboards.enabled: true\n")
	cmd := exec.Command(binaryPath, "-c", cfg, "--path.home", home, "-e")
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	var logs lockedBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	loaded := func() bool {
		kib.mu.Lock()
		defer kib.mu.Unlock()
		return kib.stored["dashboard/eventsapibeat-audit-events-dashboard"] != nil &&
			kib.stored["dashboard/eventsapibeat-item-usages-dashboard"] != nil &&
			kib.stored["dashboard/eventsapibeat-signin-attempts-dashboard"] != nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for !loaded() {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the dashboards were not loaded; log tail:\n%s", tail(logs.String(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("eventsapibeat exited with %v; log tail:\n%s", err, tail(logs.String(), 20))
	}
	kib.mu.Lock()
	defer kib.mu.Unlock()
	if len(kib.errors) > 0 {
		t.Fatalf("Kibana would have refused the import:\n%s", strings.Join(kib.errors, "\n"))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the beat left %v in the temporary directory", left)
	}
}
