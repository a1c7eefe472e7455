package eventsapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// decodeWithEncodingJSON is decodePage without the fast path: the reference
// the fast path must agree with.
func decodeWithEncodingJSON(body []byte) (*Page, bool) {
	var env envelope
	if json.Unmarshal(body, &env) != nil || env.Cursor == nil || *env.Cursor == "" {
		return nil, false
	}
	items := env.Items
	if items == nil {
		items = []json.RawMessage{}
	}
	return &Page{Cursor: *env.Cursor, HasMore: env.HasMore, Items: items}, true
}

func TestDecodePageFast(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool // the fast path takes it (otherwise encoding/json decides)
	}{
		{"plain", `{"cursor":"c1","has_more":true,"items":[{"uuid":"a"},{"uuid":"b","n":[1,2.5e-3,-0,true,false,null]}]}`, true},
		{"spaces", " \n{ \"items\" : [ ] , \"cursor\" : \"c\" , \"has_more\" : false }\t\r\n", true},
		{"no items", `{"cursor":"c"}`, true},
		{"null items", `{"cursor":"c","items":null}`, true},
		{"upper-case keys", `{"CURSOR":"c","Has_More":true,"ITEMS":[1]}`, true},
		{"unknown keys skipped", `{"x":{"y":[{"z":"\u00e9\n"}]},"cursor":"c","items":[]}`, true},
		{"duplicate keys: last wins", `{"cursor":"a","cursor":"b","items":[1],"items":[2,3],"has_more":true,"has_more":null}`, true},
		{"null cursor after a cursor", `{"cursor":"a","cursor":null}`, false},
		{"escaped cursor", `{"cursor":"a\/b\u0041","items":[]}`, true},
		{"invalid UTF-8 in cursor", "{\"cursor\":\"a\xffb\",\"items\":[]}", true},
		{"empty cursor", `{"cursor":"","items":[]}`, false},
		{"missing cursor", `{"items":[]}`, false},
		{"empty object", `{}`, false},
		{"escaped key", `{"curso\u0072":"c"}`, false},
		{"non-ASCII key that folds to has_more", "{\"cursor\":\"c\",\"ha\u017f_more\":true}", false},
		{"string has_more", `{"cursor":"c","has_more":"true"}`, false},
		{"object items", `{"cursor":"c","items":{}}`, false},
		{"number cursor", `{"cursor":12}`, false},
		{"trailing data", `{"cursor":"c"} x`, false},
		{"truncated item", `{"cursor":"c","items":[{"uuid":`, false},
		{"control character in a string", "{\"cursor\":\"c\",\"items\":[\"a\tb\"]}", false},
		{"bad escape", `{"cursor":"c","items":["\x"]}`, false},
		{"bad number", `{"cursor":"c","items":[01]}`, false},
		{"leading plus", `{"cursor":"c","items":[+1]}`, false},
		{"trailing comma", `{"cursor":"c","items":[1,]}`, false},
		{"array body", `[]`, false},
		{"null body", `null`, false},
		{"byte order mark", "\ufeff{\"cursor\":\"c\"}", false},
		{"too deep", `{"cursor":"c","items":[` + strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting) + `]}`, false},
		{"deep but allowed", `{"cursor":"c","items":[` + strings.Repeat("[", maxNesting-2) + strings.Repeat("]", maxNesting-2) + `]}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodePageFast([]byte(tt.body))
			if ok != tt.ok {
				t.Fatalf("fast path took it: %v, want %v", ok, tt.ok)
			}
			assertSameAsEncodingJSON(t, []byte(tt.body), got, ok)
		})
	}
}

// assertSameAsEncodingJSON fails if the fast path accepted a body and
// decoded it differently from encoding/json (or accepted what it rejects).
func assertSameAsEncodingJSON(t *testing.T, body []byte, got *Page, ok bool) {
	t.Helper()
	if !ok {
		return
	}
	want, wantOK := decodeWithEncodingJSON(body)
	if !wantOK {
		t.Fatalf("fast path decoded a body encoding/json rejects: %q", body)
	}
	if got.Cursor != want.Cursor || got.HasMore != want.HasMore || len(got.Items) != len(want.Items) {
		t.Fatalf("fast path: %q %v %d items; encoding/json: %q %v %d items", got.Cursor, got.HasMore, len(got.Items), want.Cursor, want.HasMore, len(want.Items))
	}
	for i := range got.Items {
		if string(got.Items[i]) != string(want.Items[i]) {
			t.Fatalf("item %d: %q, encoding/json: %q", i, got.Items[i], want.Items[i])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("pages differ: %+v vs %+v", got, want)
	}
}

func FuzzDecodePageFast(f *testing.F) {
	for _, s := range []string{
		`{"cursor":"c","has_more":true,"items":[{"uuid":"a","x":[1,-2.5E+3,"\u00e9\"",{}]}]}`,
		`{"CURSOR":"c","items":null,"has_more":null}`, `{"cursor":"a","cursor":null}`,
		`{"cursor":"c","items":[01]}`, "{\"cursor\":\"\xff\"}", `{"x":[[[]]],"cursor":"c"}`,
	} {
		f.Add([]byte(s))
	}
	addSampleSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) {
		page, ok := decodePageFast(body)
		assertSameAsEncodingJSON(t, body, page, ok)
		if _, refOK := decodeWithEncodingJSON(body); refOK && !ok && plainShape(body) {
			t.Fatalf("fast path refused a plain page: %q", body)
		}
	})
}

// plainShape reports whether body is a page in the shape the simulator and
// the real API write (lower-case ASCII keys, no escapes in them): the fast
// path must take every such body.
func plainShape(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	for k, v := range m {
		for _, c := range []byte(k) {
			if c >= 0x80 || c == '"' || c == '\\' || c < 0x20 || c >= 'A' && c <= 'Z' {
				return false
			}
		}
		switch strings.ToLower(k) {
		case "cursor":
			if v[0] != '"' {
				return false
			}
		case "has_more":
			if string(v) != "true" && string(v) != "false" {
				return false
			}
		case "items":
			if v[0] != '[' {
				return false
			}
		}
	}
	return strings.Contains(string(body), `"cursor"`) && !strings.Contains(string(body), `\`) && !strings.HasPrefix(string(body), "\ufeff")
}

func TestDecodePageFastTakesTheSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no samples in %s", samplesDir)
	}
	pages := 0
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		page, ok := decodePageFast(b)
		assertSameAsEncodingJSON(t, b, page, ok)
		if plainShape(b) {
			pages++
			if !ok {
				t.Errorf("%s: the fast path refused a plain page", filepath.Base(name))
			}
		}
	}
	if pages == 0 {
		t.Fatal("no sample is a page")
	}
	t.Logf("%d of %d samples are pages, all decoded by the fast path", pages, len(files))
}

func BenchmarkDecodePage(b *testing.B) {
	item := `{"uuid":"56YE2TYN2VFYRLNSHKPW5NVT5E","timestamp":"2023-03-15T16:33:50-03:00","used_version":0,"vault_uuid":"VZSYVT2LGHTBWBQGUJAIZVRABM","item_uuid":"SDGD3I4AJYO6RMHRK8DYVNFIDY","user":{"uuid":"OJQGU46KAPROEJLCK674RHSAY5","name":"Test User","email":"test@example.com"},"client":{"app_name":"1Password Browser Extension","app_version":"20195","platform_name":"Chrome","platform_version":"112.0.5615.137","os_name":"MacOSX","os_version":"13.3.1","ip_address":"192.0.2.254"},"location":{"country":"Canada","region":"Ontario","city":"Toronto","latitude":43.64,"longitude":-79.433},"action":"secure-copy"}`
	body := []byte(`{"cursor":"aGVsbG8hIElzIGl0IG1lIHlvdSdyZSBsb29raW5nIGZvcj8K","has_more":true,"items":[` + strings.TrimSuffix(strings.Repeat(item+",", 1000), ",") + `]}`)
	for _, c := range []struct {
		name   string
		decode func([]byte) (*Page, bool)
	}{{"fast", decodePageFast}, {"encoding-json", decodeWithEncodingJSON}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if p, ok := c.decode(body); !ok || len(p.Items) != 1000 {
					b.Fatal("not decoded")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/event")
		})
	}
}
