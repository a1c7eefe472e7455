package module

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitObject: for any valid JSON object, the splitter yields the same
// members as encoding/json (last duplicate wins), with the same raw values.
func FuzzSplitObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"}"}], "d":"x\"y", "e":null,"f":true,"g":-1.5e3 } `,
		`{"a":1,"a":2}`, `{"\u0061":"esc"}`, `{"a":{"b":{"c":[[],{}]}}}`, `{"k":"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		werr := json.Unmarshal(b, &want)
		var arena []member
		got, gerr := parseItem(b, &arena)
		if werr != nil || want == nil {
			if gerr == nil && !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
				t.Fatalf("parseItem accepted %q (encoding/json: %v)", b, werr)
			}
			return
		}
		if gerr != nil {
			t.Fatalf("parseItem(%q): %v", b, gerr)
		}
		last := map[string]json.RawMessage{}
		for i := range got {
			last[got[i].name()] = got[i].raw
		}
		if len(last) != len(want) {
			t.Fatalf("%q: %d keys, want %d", b, len(last), len(want))
		}
		for k, w := range want {
			g, ok := last[k]
			if !ok || !bytes.Equal(bytes.TrimSpace(g), bytes.TrimSpace(w)) {
				t.Fatalf("%q: key %q = %q, want %q", b, k, g, w)
			}
		}
		// Nested objects and arrays split as well.
		for _, raw := range last {
			switch raw[0] {
			case '{':
				if _, err := splitObject(raw, &arena); err != nil {
					t.Fatalf("splitObject(%q): %v", raw, err)
				}
			case '[':
				var elems []json.RawMessage
				_ = json.Unmarshal(raw, &elems)
				got, err := splitArray(raw)
				if err != nil || len(got) != len(elems) {
					t.Fatalf("splitArray(%q) = %d, %v; want %d", raw, len(got), err, len(elems))
				}
			}
		}
	})
}
