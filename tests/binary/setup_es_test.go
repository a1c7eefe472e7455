package binary

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/mock-es/pkg/api"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// esRequest is one request the mock Elasticsearch received.
type esRequest struct {
	method, path, userAgent string
	body                    []byte
}

type clusterUUID string

func (u clusterUUID) String() string { return string(u) }

// TestSetupIndexManagement runs `eventsapibeat setup --index-management`
// against mock-es, Elastic's fake Elasticsearch: the beat sends an index
// template, and it is the one `export template` prints, built from the
// modules' fields.yml (typed ECS fields, onepassword.*, the 2.x aliases).
func TestSetupIndexManagement(t *testing.T) {
	var mu sync.Mutex
	var requests []esRequest
	mock := api.NewAPIHandler(clusterUUID("eventsapibeat-setup"), "eventsapibeat-setup-cluster", nil, time.Now().Add(24*time.Hour), 0, 0, 0, 0, 0, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
			var zr *gzip.Reader
			if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
				body, err = io.ReadAll(zr)
			}
		}
		if err != nil {
			t.Errorf("%s %s: reading the body: %v", r.Method, r.URL.Path, err)
		}
		mu.Lock()
		requests = append(requests, esRequest{method: r.Method, path: r.URL.Path, userAgent: r.UserAgent(), body: body})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Header.Del("Content-Encoding")
		mock.ServeHTTP(w, r)
	}))
	defer srv.Close()

	// A working configuration: setup loads it, and the beat checks it.
	sim, base := startSimulator(t, simulator.Config{Seed: 3, Events: map[string]int{"signinattempts": 1}})
	token := issueToken(t, sim, "signinattempts")
	home := t.TempDir()
	cfg := fmt.Sprintf("eventsapibeat:\n  url: %q\n  signin_attempts:\n    enabled: true\n    auth_token: \"${SIGNIN_TOKEN}\"\noutput.elasticsearch:\n  hosts: [%q]\n", base, srv.URL)
	if err := os.WriteFile(filepath.Join(home, "eventsapibeat.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	setup := exec.Command(binaryPath, "setup", "--index-management", "--path.home", home, "-e")
	setup.Env = append(os.Environ(), "SIGNIN_TOKEN="+token)
	out, err := setup.CombinedOutput()
	if err != nil {
		t.Fatalf("setup --index-management: %v\n%s", err, tail(string(out), 20))
	}
	if strings.Contains(string(out), token) {
		t.Fatal("setup printed the token")
	}

	// The template it sent.
	mu.Lock()
	var sent []esRequest
	userAgent := ""
	for _, req := range requests {
		if req.method == http.MethodGet && req.path == "/" {
			userAgent = req.userAgent
		}
		if req.method == http.MethodPut && strings.HasPrefix(req.path, "/_index_template/") {
			sent = append(sent, req)
		}
	}
	mu.Unlock()
	if len(sent) != 1 {
		t.Fatalf("%d PUT /_index_template requests, want 1; output:\n%s", len(sent), tail(string(out), 20))
	}
	if want := "/_index_template/eventsapibeat-3.0.0"; sent[0].path != want {
		t.Errorf("template sent to %s, want %s", sent[0].path, want)
	}
	var loaded indexTemplate
	if err := json.Unmarshal(sent[0].body, &loaded); err != nil {
		t.Fatalf("the template sent is not JSON: %v", err)
	}
	if !reflect.DeepEqual(loaded.IndexPatterns, []any{"eventsapibeat-3.0.0"}) || loaded.DataStream == nil {
		t.Errorf("template for %v (data_stream %v), want the data stream eventsapibeat-3.0.0", loaded.IndexPatterns, loaded.DataStream)
	}

	// It is the template `export template` prints for the same version.
	exported, err := exec.Command(binaryPath, "export", "template", "--es.version", mockESVersion(t, srv.URL, userAgent), "--path.home", home).Output()
	if err != nil {
		t.Fatalf("export template: %v", err)
	}
	var printed indexTemplate
	if err := json.Unmarshal(exported, &printed); err != nil {
		t.Fatalf("export template is not JSON: %v", err)
	}
	if !reflect.DeepEqual(loaded.Template["mappings"], printed.Template["mappings"]) {
		t.Error("the mappings sent by setup differ from those of export template")
	}

	// Built from our fields.yml: a few fields of each kind.
	props, _ := loaded.Template["mappings"].(map[string]any)["properties"].(map[string]any)
	for path, want := range map[string]string{
		"source.ip":                      "ip",
		"source.geo.location":            "geo_point",
		"onepassword.uuid":               "keyword",
		"onepassword.session.login_time": "date",
		"onepassword.used_version":       "long",
		"os.name":                        "alias",
	} {
		if got := fieldType(props, path); got != want {
			t.Errorf("%s: type %q in the template sent, want %q", path, got, want)
		}
	}
	t.Logf("template %s sent to mock-es (reporting Elasticsearch %s): %d bytes, %d top-level fields", sent[0].path, mockESVersion(t, srv.URL, userAgent), len(sent[0].body), len(props))
}

// indexTemplate is the part of a composable index template the test reads.
type indexTemplate struct {
	IndexPatterns []any          `json:"index_patterns"`
	DataStream    map[string]any `json:"data_stream"`
	Template      map[string]any `json:"template"`
}

// mockESVersion asks the mock Elasticsearch for the version it reported to the
// beat: mock-es echoes the version in the client's User-Agent.
func mockESVersion(t *testing.T, url, userAgent string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", userAgent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var root struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&root); err != nil || root.Version.Number == "" {
		t.Fatalf("GET / of mock-es: %v (version %q)", err, root.Version.Number)
	}
	return root.Version.Number
}

// fieldType is the mapping type of a dotted field path in properties.
func fieldType(props map[string]any, path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, _ := props[p].(map[string]any)
		if f == nil {
			return ""
		}
		if i == len(parts)-1 {
			s, _ := f["type"].(string)
			return s
		}
		props, _ = f["properties"].(map[string]any)
	}
	return ""
}
