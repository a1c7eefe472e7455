package mapcheck

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/mapstr"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// --- benchmarks -------------------------------------------------------------

// Bench benchmarks Map on the Base item: a clean v2 item with every
// documented field, as most items of a real page are (BenchmarkMap).
func (s Suite) Bench(b *testing.B) {
	s.bench(b, []byte(s.Base), module.MapOptions{Received: time.Now()})
}

// BenchWorstCase benchmarks Map on WorstCase with preserve_original on
// (BenchmarkMapWorstCase).
func (s Suite) BenchWorstCase(b *testing.B) {
	s.bench(b, s.WorstCase(b), module.MapOptions{Received: time.Now(), PreserveOriginal: true})
}

// BenchDocument benchmarks a deep copy of the document Map makes of the
// Base item (its maps made again, the leaf values shared): the cost of the
// mapstr.M tree alone, a floor for Map (BenchmarkDocumentFloor).
func (s Suite) BenchDocument(b *testing.B) {
	ev, err := s.Type.Map([]byte(s.Base), module.MapOptions{Received: time.Now()})
	if err != nil {
		b.Fatal(err)
	}
	var fields, meta mapstr.M
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fields = ev.Fields.Clone()
		meta = ev.Meta.Clone()
	}
	runtime.KeepAlive(fields)
	runtime.KeepAlive(meta)
}

func (s Suite) bench(b *testing.B, item []byte, opts module.MapOptions) {
	if _, err := s.Type.Map(item, opts); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(item)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Type.Map(item, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// WorstCase is Base with every string that names a person or a place made
// non-ASCII with escapes, and unknown fields (a nested object with an array,
// a dotted key, a big integer, a float, an escaped non-ASCII string) at the
// top level and in every nested object: every slow path of Map that a valid
// item can take.
func (s Suite) WorstCase(t testing.TB) []byte {
	t.Helper()
	m := s.BaseMap(t)
	for _, o := range m {
		if sub, ok := o.(map[string]interface{}); ok {
			for k := range sub {
				switch k {
				case "name", "city", "region":
					sub[k] = "Zoë \"Ünïcødé\" 山田 — Montréal"
				}
			}
			sub["new_thing"] = "caf\u00e9 \u2713"
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	extra := `,"new_v3_field":{"kind":"passkey","tags":["a","b","c"],"score":0.93,"nested":{"deep":[1,2,3],"flag":true}},` +
		`"dotted.key":"x","note":"caf\u00e9 \u2713 \"q\" \ud83d\ude00","big":12345678901234,"ratio":-1.5e3,"nothing":null}`
	return append(b[:len(b)-1], extra...)
}

// PageItem is one item of a benchmark page and the type that maps it.
type PageItem struct {
	Type module.Type
	Item []byte
}

// Page builds a page of n items from the testdata fixtures of the given
// types (module/<type>/testdata, relative to the module directory dir):
// the clean fixtures in turn, and one in twenty a "quirks" fixture (wrong
// JSON types, unknown fields, unparsable values), with the uuids made
// unique. Items of several types interleave when more than one is given.
func Page(t testing.TB, dir string, n int, types ...module.Type) []PageItem {
	t.Helper()
	type pool struct {
		typ           module.Type
		clean, quirks [][]byte
	}
	var pools []pool
	for _, typ := range types {
		files, err := filepath.Glob(filepath.Join(dir, typ.Name, "testdata", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(files)
		p := pool{typ: typ}
		for _, f := range files {
			if strings.HasSuffix(f, ".golden.json") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(filepath.Base(f), "quirks") {
				p.quirks = append(p.quirks, b)
			} else {
				p.clean = append(p.clean, b)
			}
		}
		if len(p.clean) == 0 {
			t.Fatalf("%s: no testdata fixtures", typ.Name)
		}
		pools = append(pools, p)
	}
	if len(pools) == 0 {
		t.Fatal("Page: no types")
	}
	out := make([]PageItem, 0, n)
	for i := 0; i < n; i++ {
		p := pools[i%len(pools)]
		j := i / len(pools)
		item := p.clean[j%len(p.clean)]
		if j%20 == 19 && len(p.quirks) > 0 {
			item = p.quirks[(j/20)%len(p.quirks)]
		}
		out = append(out, PageItem{Type: p.typ, Item: uniqueUUID(item, i)})
	}
	return out
}

// uniqueUUID rewrites the item's top-level uuid with a counter in its last
// characters, keeping its length.
func uniqueUUID(item []byte, i int) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(item, &m) != nil {
		return item
	}
	var uuid string
	if json.Unmarshal(m["uuid"], &uuid) != nil || len(uuid) < 6 {
		return item
	}
	old, _ := json.Marshal(uuid)
	n := strconv.Itoa(100000 + i%900000)
	uuid = uuid[:len(uuid)-6] + n
	repl, _ := json.Marshal(uuid)
	return []byte(strings.Replace(string(item), string(old), string(repl), 1))
}

// PageJSON is the API response body holding the items.
func PageJSON(items []PageItem) []byte {
	buf := []byte(`{"cursor":"aGVsbG8hIElzIHRoaXMgaW5mb3JtYXRpb24gdXNlZnVsIHRvIHlvdT8","has_more":true,"items":[`)
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, it.Item...)
	}
	return append(buf, "]}"...)
}
