package mapcheck

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// Received is the receive time the tests pass to Map.
var Received = time.Date(2025, 11, 22, 10, 30, 0, 123456789, time.UTC)

// Opts are the MapOptions of the tests.
var Opts = module.MapOptions{Received: Received}

var update = flag.Bool("update", false, "rewrite the testdata/*.golden.json files")

// Suite runs the tests every event type shares: Elastic conformance, the
// API samples, golden fixtures, edge cases common to all types, the
// "every field is defined" check, fuzzing and benchmarks.
type Suite struct {
	Type module.Type
	// Stream is the folder of Elastic's vectors (signin_attempts, …).
	Stream string
	// Base is a valid v2 item with every field, location and a client IP.
	Base string
	// IPPath is where the client IP is in the item (["client", "ip_address"]).
	IPPath []string
	// RawIPField is the onepassword.* field that keeps an invalid IP.
	RawIPField string
}

// Map maps item (a JSON string, []byte, or a value to marshal).
func (s Suite) Map(t testing.TB, item interface{}, opts module.MapOptions) (beat.Event, error) {
	t.Helper()
	return s.Type.Map(ToJSON(t, item), opts)
}

// MustMap maps a valid item and fails on an error or a broken invariant.
func (s Suite) MustMap(t testing.TB, item interface{}) beat.Event {
	t.Helper()
	ev, err := s.Map(t, item, Opts)
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	s.CheckEvent(t, ev)
	return ev
}

// CheckEvent fails the test when Check reports a problem.
func (s Suite) CheckEvent(t testing.TB, ev beat.Event) {
	t.Helper()
	defs, err := StandardDefs()
	if err != nil {
		t.Fatalf("field definitions: %v", err)
	}
	for _, p := range Check(ev, s.Type.Name, defs) {
		t.Errorf("invalid document: %s", p)
	}
}

// ToJSON returns item as JSON bytes.
func ToJSON(t testing.TB, item interface{}) []byte {
	t.Helper()
	switch v := item.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case json.RawMessage:
		return v
	}
	b, err := json.Marshal(item)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return b
}

// BaseMap returns a fresh decoded copy of Base for mutation.
func (s Suite) BaseMap(t testing.TB) map[string]interface{} {
	t.Helper()
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(s.Base), &m); err != nil {
		t.Fatalf("Base: %v", err)
	}
	return m
}

// Get returns the flattened value of key in ev (nil when absent).
func Get(t testing.TB, ev beat.Event, key string) interface{} {
	t.Helper()
	doc, err := Doc(ev)
	if err != nil {
		t.Fatal(err)
	}
	return Flatten(doc)[key]
}

// Has reports whether the flattened document has key.
func Has(t testing.TB, ev beat.Event, key string) bool {
	t.Helper()
	doc, err := Doc(ev)
	if err != nil {
		t.Fatal(err)
	}
	_, ok := Flatten(doc)[key]
	return ok
}

// --- conformance -------------------------------------------------------------

// TestConformance maps every Elastic pipeline vector and the newest README
// sample of the stream and compares with Elastic's documents (see Compare).
func (s Suite) TestConformance(t *testing.T) {
	vs, ok, err := LoadPipelineVectors(s.Stream)
	if !ok {
		t.Fatal("conformance vectors not found under testdata/conformance")
	}
	if err != nil {
		t.Fatal(err)
	}
	if rv, ok, err := LoadReadmeVector(s.Stream); err != nil {
		t.Fatal(err)
	} else if ok {
		vs = append(vs, rv)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			opts := module.MapOptions{Received: v.Received, PreserveOriginal: v.PreserveOriginal()}
			if opts.Received.IsZero() {
				opts.Received = Received // the vector's time does not parse; event.created is skipped
			}
			ev, err := s.Type.Map(v.Input, opts)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			s.CheckEvent(t, ev)
			for _, d := range Compare(s.Stream, v, ev) {
				t.Error(d)
			}
			if msgs := ErrorMessages(ev); len(msgs) > 0 {
				t.Errorf("unexpected error.message: %q", msgs)
			}
		})
	}
}

// --- API samples -------------------------------------------------------------

// TestSamples maps every API sample of the type: no error, a valid document,
// event.id = uuid, @metadata, and only the listed undefined fields and
// problems (the samples' documented quirks).
func (s Suite) TestSamples(t *testing.T, quirks map[string]Quirk) {
	samples, ok, err := LoadAPISamples()
	if !ok {
		t.Fatal("api-samples not found under testdata/conformance")
	}
	if err != nil {
		t.Fatal(err)
	}
	defs, err := StandardDefs()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, smp := range samples {
		if smp.Type != s.Type.Name {
			continue
		}
		n++
		t.Run(smp.Source, func(t *testing.T) {
			ev, err := s.Type.Map(smp.Item, Opts)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			s.CheckEvent(t, ev)
			q := quirks[smp.Source]
			undefined, err := Undefined(ev, defs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(nonNil(undefined), nonNil(q.Undefined)) {
				t.Errorf("undefined fields %q, want %q", undefined, q.Undefined)
			}
			msgs := ErrorMessages(ev)
			if len(msgs) != len(q.Problems) {
				t.Errorf("error.message %q, want %d problems matching %q", msgs, len(q.Problems), q.Problems)
			} else {
				for i, want := range q.Problems {
					if !strings.Contains(msgs[i], want) {
						t.Errorf("error.message[%d] = %q, want it to contain %q", i, msgs[i], want)
					}
				}
			}
			var item struct {
				UUID json.RawMessage `json:"uuid"`
			}
			_ = json.Unmarshal(smp.Item, &item)
			var uuid string
			if json.Unmarshal(item.UUID, &uuid) == nil && uuid != "" {
				if got := Get(t, ev, "event.id"); got != uuid {
					t.Errorf("event.id = %v, want %q", got, uuid)
				}
			}
			for _, k := range []string{"event.kind", "event.module", "event.dataset", "event.category", "event.type", "event.created"} {
				if !Has(t, ev, k) {
					t.Errorf("%s missing", k)
				}
			}
			if q.Check != nil {
				q.Check(t, ev)
			}
		})
	}
	if n == 0 {
		t.Fatalf("no API sample of type %s", s.Type.Name)
	}
}

// Quirk is what a sample is allowed to produce besides a clean document.
type Quirk struct {
	// Undefined fields the sample produces (its unknown keys).
	Undefined []string
	// Problems: substrings of the expected error.message entries, in order.
	Problems []string
	// Check runs more assertions.
	Check func(t *testing.T, ev beat.Event)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// --- golden fixtures ----------------------------------------------------------

// TestGolden maps every testdata/*.json item (not *.golden.json) and compares
// the flattened document, @timestamp and @metadata with
// testdata/<name>.golden.json. Run with -update to rewrite them.
func (s Suite) TestGolden(t *testing.T) {
	files, err := Fixtures()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			item, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := s.Type.Map(item, Opts)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			s.CheckEvent(t, ev)
			got := Golden(t, ev)
			golden := strings.TrimSuffix(f, ".json") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("%s differs (run go test -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

// Fixtures lists the package's testdata items.
func Fixtures() ([]string, error) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		return nil, err
	}
	out := files[:0]
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden.json") {
			out = append(out, f)
		}
	}
	return out, nil
}

// Golden renders an event deterministically: @timestamp, @metadata and the
// flattened fields in key order.
func Golden(t testing.TB, ev beat.Event) []byte {
	t.Helper()
	doc, err := Doc(ev)
	if err != nil {
		t.Fatal(err)
	}
	flat := Flatten(doc)
	flat["@metadata._id"] = ev.Meta["_id"]
	flat["@metadata.event_type"] = ev.Meta["event_type"]
	keys := Keys(flat)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(flat[k])
		buf.WriteString("  ")
		buf.Write(kb)
		buf.WriteString(": ")
		buf.Write(vb)
		if i < len(keys)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n")
	return buf.Bytes()
}

// --- every written field is defined -----------------------------------------

// TestFieldsDefined maps the fixtures, the Base item and its edge-case
// variants (extra) and fails on any key that neither libbeat's ECS fields nor
// the event types' fields.yml define: the index template must type every
// field. Keys under allowed prefixes (deliberately unknown fields) are
// skipped.
func (s Suite) TestFieldsDefined(t *testing.T, extra []string, allowed ...string) {
	defs, err := StandardDefs()
	if err != nil {
		t.Fatal(err)
	}
	items := append([]string{s.Base}, extra...)
	files, err := Fixtures()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, string(b))
	}
	seen := map[string]bool{}
	for _, item := range items {
		for _, preserve := range []bool{false, true} {
			ev, err := s.Type.Map([]byte(item), module.MapOptions{Received: Received, PreserveOriginal: preserve})
			if err != nil {
				t.Fatalf("Map(%s): %v", item, err)
			}
			undefined, err := Undefined(ev, defs, allowed...)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range undefined {
				if !seen[k] {
					seen[k] = true
					t.Errorf("field %s is defined neither in libbeat's ECS fields nor in a fields.yml (item %.200s)", k, item)
				}
			}
		}
	}
}

// --- fuzzing ----------------------------------------------------------------

// Fuzz fuzzes Map from the Base item, the fixtures, the API samples of the
// type and a few degenerate inputs. Whatever the input, Map must not panic;
// it returns an error only for a non-object; the event (even with an error)
// has @metadata._id and event_type, a non-zero @timestamp and only values
// the template's mappings accept.
func (s Suite) Fuzz(f *testing.F) {
	f.Add([]byte(s.Base))
	if files, err := Fixtures(); err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	if samples, ok, _ := LoadAPISamples(); ok {
		for _, smp := range samples {
			if smp.Type == s.Type.Name {
				f.Add([]byte(smp.Item))
			}
		}
	}
	for _, seed := range []string{``, `{}`, `null`, `[]`, `"x"`, `{"uuid":1,"timestamp":2}`, `{"a":{"b.c":[1,"x"]}}`} {
		f.Add([]byte(seed))
	}
	defs, err := StandardDefs()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, item []byte) {
		ev, err := s.Type.Map(item, Opts)
		if err != nil {
			var v interface{}
			if json.Unmarshal(item, &v) == nil {
				if _, isObj := v.(map[string]interface{}); isObj {
					t.Fatalf("Map returned %v for a JSON object", err)
				}
			}
		}
		for _, p := range Check(ev, s.Type.Name, defs) {
			t.Errorf("invalid document: %s", p)
		}
	})
}

// SortedStrings returns a sorted copy.
func SortedStrings(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}
