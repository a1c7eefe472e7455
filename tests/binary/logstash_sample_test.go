package binary

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// logstashSample is the pipeline the README points Logstash users to.
var logstashSample = filepath.Join("..", "..", "_meta", "logstash", "eventsapibeat.conf")

// sprintfRef matches a Logstash sprintf reference: %{[a][b]} or %{+yyyy.MM}.
var sprintfRef = regexp.MustCompile(`%\{([^}]*)\}`)

// TestLogstashSample: every index and document_id of the sample pipeline
// (the active output and the commented alternatives) resolves, for every
// document the modules write, to a non-empty value and a valid
// Elasticsearch index name, from fields our events carry. The active output
// creates documents with the event's own id.
func TestLogstashSample(t *testing.T) {
	data, err := os.ReadFile(logstashSample)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	setting := func(name string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^[#\s]*`+name+`\s*=>\s*"([^"]+)"`).FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		return out
	}
	indices, ids := setting("index"), setting("document_id")
	if len(indices) == 0 || len(ids) == 0 {
		t.Fatalf("%s has no index or document_id", logstashSample)
	}
	active := activeLines(text)
	for _, want := range []string{
		`index => "eventsapibeat-%{[@metadata][event_type]}"`,
		`document_id => "%{[@metadata][_id]}"`,
		`action => "create"`,
		`beats {`,
	} {
		if !strings.Contains(active, want) {
			t.Errorf("the sample's active pipeline lacks %s", want)
		}
	}

	goldens, err := filepath.Glob(filepath.Join("..", "..", "module", "*", "testdata", "*.golden.json"))
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden documents (%v)", err)
	}
	for _, file := range goldens {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		for _, pattern := range indices {
			name, err := sprintf(pattern, doc)
			if err != "" {
				t.Errorf("%s: index %s: %s", filepath.Base(file), pattern, err)
				continue
			}
			if why := invalidIndexName(name); why != "" {
				t.Errorf("%s: index %s gives %q, %s", filepath.Base(file), pattern, name, why)
			}
		}
		for _, pattern := range ids {
			if id, err := sprintf(pattern, doc); err != "" || id == "" {
				t.Errorf("%s: document_id %s: %q %s", filepath.Base(file), pattern, id, err)
			}
		}
	}

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "_meta/logstash/eventsapibeat.conf") {
		t.Error("README.md does not point to _meta/logstash/eventsapibeat.conf")
	}
}

// activeLines returns the pipeline without its comments.
func activeLines(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		b.WriteString(strings.TrimSpace(line) + "\n")
	}
	return b.String()
}

// sprintf resolves Logstash's %{[a][b]} field references against a
// flattened document, and %{+yyyy.MM} against its @timestamp (UTC, as
// Logstash does).
func sprintf(pattern string, doc map[string]any) (string, string) {
	var problem string
	out := sprintfRef.ReplaceAllStringFunc(pattern, func(ref string) string {
		inner := ref[2 : len(ref)-1]
		if format, ok := strings.CutPrefix(inner, "+"); ok {
			ts, _ := doc["@timestamp"].(string)
			at, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				problem = "no @timestamp"
				return ""
			}
			layout := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02").Replace(format)
			return at.UTC().Format(layout)
		}
		key := strings.ReplaceAll(strings.Trim(inner, "[]"), "][", ".")
		v, ok := doc[key].(string)
		if !ok || v == "" {
			problem = "the document has no " + inner
			return ""
		}
		return v
	})
	return out, problem
}

// invalidIndexName explains why Elasticsearch would refuse an index or data
// stream name, or returns "".
func invalidIndexName(name string) string {
	switch {
	case name != strings.ToLower(name):
		return "not lower case"
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return "contains a character Elasticsearch forbids"
	case strings.HasPrefix(name, "-") || strings.HasPrefix(name, "_") || strings.HasPrefix(name, "+"):
		return "starts with -, _ or +"
	case len(name) > 255:
		return "longer than 255 bytes"
	}
	return ""
}
