package mapcheck

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
)

// Vector is one input of Elastic's 1password integration and the document
// its ingest pipeline produced.
type Vector struct {
	Name string
	// Input is the raw API item (the pipeline's message / event.original).
	Input []byte
	// Received is the time the item was received (Elastic's event.created);
	// zero when the vector's value does not parse (see ReceivedRaw).
	Received    time.Time
	ReceivedRaw string
	// Expected is Elastic's document.
	Expected map[string]interface{}
}

// PreserveOriginal reports whether Elastic kept event.original.
func (v Vector) PreserveOriginal() bool {
	ev, _ := v.Expected["event"].(map[string]interface{})
	_, ok := ev["original"]
	return ok
}

// LoadPipelineVectors reads conformance/elastic-1password/<stream>/test-*.json
// and the matching -expected.json files. ok is false when the folder is
// missing (tests skip).
func LoadPipelineVectors(stream string) (vs []Vector, ok bool, err error) {
	dir, ok := Shared("conformance/elastic-1password/" + stream)
	if !ok {
		return nil, false, nil
	}
	inputs, err := filepath.Glob(filepath.Join(dir, "test-*.json"))
	if err != nil {
		return nil, true, err
	}
	for _, in := range inputs {
		if strings.HasSuffix(in, "-expected.json") {
			continue
		}
		var input struct {
			Events []struct {
				Timestamp string `json:"@timestamp"`
				Message   string `json:"message"`
			} `json:"events"`
		}
		var expected struct {
			Expected []map[string]interface{} `json:"expected"`
		}
		if err := readJSON(in, &input); err != nil {
			return nil, true, err
		}
		if err := readJSON(in+"-expected.json", &expected); err != nil {
			return nil, true, err
		}
		if len(input.Events) != len(expected.Expected) {
			return nil, true, fmt.Errorf("%s: %d events, %d expected", in, len(input.Events), len(expected.Expected))
		}
		for i, e := range input.Events {
			v := Vector{
				Name:        fmt.Sprintf("%s#%d", filepath.Base(in), i),
				Input:       []byte(e.Message),
				ReceivedRaw: e.Timestamp,
				Expected:    expected.Expected[i],
			}
			v.Received, _ = time.Parse(time.RFC3339Nano, e.Timestamp)
			vs = append(vs, v)
		}
	}
	return vs, true, nil
}

// LoadReadmeVector reads conformance/elastic-1password/_docs-readme-newest/
// <stream>.sample_event.json: a document of the current pipeline whose input
// is its event.original and whose receive time is its event.created.
func LoadReadmeVector(stream string) (v Vector, ok bool, err error) {
	p, ok := Shared("conformance/elastic-1password/_docs-readme-newest/" + stream + ".sample_event.json")
	if !ok {
		return v, false, nil
	}
	if err := readJSON(p, &v.Expected); err != nil {
		return v, true, err
	}
	ev, _ := v.Expected["event"].(map[string]interface{})
	orig, _ := ev["original"].(string)
	if orig == "" {
		return v, true, fmt.Errorf("%s: no event.original", p)
	}
	v.Name = filepath.Base(p)
	v.Input = []byte(orig)
	v.ReceivedRaw, _ = ev["created"].(string)
	v.Received, _ = time.Parse(time.RFC3339Nano, v.ReceivedRaw)
	return v, true, nil
}

func readJSON(path string, v interface{}) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Exclusions: fields of Elastic's documents this beat does not write, by
// design. Each entry is a flattened key or a prefix of keys.
var Exclusions = []struct{ Prefix, Why string }{
	{"ecs.version", "set by libbeat at publish time (Elastic's vectors pin an older ECS version)"},
	{"event.ingested", "set by Elasticsearch's ingest pipeline, not by the source"},
	{"tags", "test-runner / Fleet tags (preserve_original_event, forwarded, 1password-*)"},
	{"source.geo", "Elastic enriches source.ip with GeoIP; this beat uses 1Password's own location (checked by the edge-case tests)"},
	{"source.as", "GeoIP ASN enrichment, not in the API data"},
	{"agent", "added by Elastic Agent"},
	{"elastic_agent", "added by Elastic Agent"},
	{"data_stream", "added by Fleet"},
	{"input", "the Filebeat input type (httpjson)"},
	{"event.agent_id_status", "added by Fleet"},
	{"host.name", "the Elastic Agent host (docker-fleet-agent), not the client"},
}

// Transform applies to Elastic's expected document the documented changes
// of the CURRENT (>= 1.30.2) pipeline that the copied vectors predate (see
// conformance/elastic-1password/SOURCES.txt). It works on the flattened
// document and needs the vector's input for the audit related.user change.
func Transform(stream string, input []byte, flat map[string]interface{}) {
	// 1.21.0: root os.* (not ECS) moved to host.os.*.
	for _, k := range []string{"name", "version"} {
		if v, ok := flat["os."+k]; ok {
			delete(flat, "os."+k)
			flat["host.os."+k] = v
		}
	}
	// 1.23.1: "onepassword.details": null is removed.
	if v, ok := flat["onepassword.details"]; ok && v == nil {
		delete(flat, "onepassword.details")
	}
	// 1.30.2, audit: actor_details.name goes to user.full_name (it used to
	// go to user.name) and is prepended to related.user.
	if stream == "audit_events" {
		if v, ok := flat["user.name"]; ok {
			if _, has := flat["user.full_name"]; !has {
				flat["user.full_name"] = v
			}
		}
		var item struct {
			ActorDetails struct {
				Name string `json:"name"`
			} `json:"actor_details"`
		}
		if json.Unmarshal(input, &item) == nil && item.ActorDetails.Name != "" {
			users, _ := flat["related.user"].([]interface{})
			if !containsValue(users, item.ActorDetails.Name) {
				flat["related.user"] = append([]interface{}{item.ActorDetails.Name}, users...)
			}
		}
	}
	// 1.30.2: user.name copies user.full_name.
	if v, ok := flat["user.full_name"]; ok {
		if _, has := flat["user.name"]; !has {
			flat["user.name"] = v
		}
	}
}

func containsValue(list []interface{}, v interface{}) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// Compare returns the differences between the mapped event and Elastic's
// expected document: every expected field, after Exclusions and Transform,
// must be in the event with the same value, except that
//   - @timestamp is compared at Elastic's millisecond precision;
//   - event.created is compared as a time, and skipped when the vector's
//     receive time does not parse (it could not be passed to Map);
//   - event.type: Elastic's values must come first, in order; this beat may
//     add more (sign-in "start" on success, the audit action's type).
//
// Fields the beat adds (event.id, event.reason, user.target.*, …) are not
// differences.
func Compare(stream string, v Vector, ev beat.Event) []string {
	var diffs []string
	doc, err := Doc(ev)
	if err != nil {
		return []string{err.Error()}
	}
	got := Flatten(doc)
	want := Flatten(v.Expected)
	Transform(stream, v.Input, want)

	keys := Keys(want)
	sort.Strings(keys)
next:
	for _, k := range keys {
		for _, ex := range Exclusions {
			if k == ex.Prefix || strings.HasPrefix(k, ex.Prefix+".") {
				continue next
			}
		}
		w := want[k]
		g, ok := got[k]
		switch {
		case k == "@timestamp":
			if !sameTime(w, ev.Timestamp, time.Millisecond) {
				diffs = append(diffs, fmt.Sprintf("@timestamp: got %s, want %v", ev.Timestamp.Format(time.RFC3339Nano), w))
			}
		case k == "event.created":
			if v.Received.IsZero() {
				continue
			}
			if !ok || !sameTimeString(w, g) {
				diffs = append(diffs, fmt.Sprintf("event.created: got %v, want %v", g, w))
			}
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: missing, want %v", k, show(w)))
		case k == "event.type":
			wl, _ := w.([]interface{})
			gl, _ := g.([]interface{})
			if len(gl) < len(wl) || !reflect.DeepEqual(gl[:len(wl)], wl) {
				diffs = append(diffs, fmt.Sprintf("event.type: got %v, want %v first", show(g), show(w)))
			}
		case !reflect.DeepEqual(g, w):
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, show(g), show(w)))
		}
	}
	return diffs
}

func show(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sameTime(want interface{}, got time.Time, prec time.Duration) bool {
	s, _ := want.(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && t.Truncate(prec).Equal(got.Truncate(prec))
}

func sameTimeString(want, got interface{}) bool {
	g, _ := got.(string)
	t, err := time.Parse(time.RFC3339Nano, g)
	return err == nil && sameTime(want, t, time.Millisecond)
}
