package module

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// TestSpecial8 checks the word-at-a-time test of scanString against
// strSafe for every byte value at every position, after safe and after
// special bytes.
func TestSpecial8(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			for _, fill := range []byte{'a', ' ', '~', 0x7f} {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				var x uint64
				for i := 7; i >= 0; i-- {
					x = x<<8 | uint64(w[i])
				}
				sp := special8(x)
				first := -1
				for i, b := range w {
					if !strSafe[b] {
						first = i
						break
					}
				}
				switch {
				case first < 0 && sp != 0:
					t.Fatalf("%q: special8 = %#x, want 0", w, sp)
				case first >= 0 && (sp == 0 || sp&(1<<(8*first+7)) == 0 || sp&(1<<(8*first+7)-1) != 0):
					t.Fatalf("%q: special8 = %#x, want lowest bit at byte %d", w, sp, first)
				}
			}
		}
	}
}

// FuzzScan: the reader accepts exactly what json.Valid accepts, and splits
// objects as splitObject does, with exact string flags.
func FuzzScan(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `1`, `-0.5e+3`, `"x"`, `true`, `null`, ` { "a" : [1, {"b":"\u00e9"}] } `,
		`{"a":{"b":{"c":"d"}},"e":[{"f":1}],"g":"caf` + "\xc3\xa9" + `"}`, `{"a":1,"a":{"x":2}}`,
		`{"a":01}`, `{"a":1.}`, `{"a":"\q"}`, `{"a":"\u12x4"}`, "{\"a\":\"\x01\"}", `{"a" 1}`, `{"a":1,}`,
		`{"a":1,"b":2,"a":3}`, `{"ab":1,"a\u0062":2}`, `[1,]`, `{"a":tru}`, `{"a":nul}`, `--1`, `1e`, `{"a":[}`, "\"\xff\"", `{"\u0061":"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r reader
		text := string(b)
		root, ok := r.scan(b)
		if ok != json.Valid(b) {
			t.Fatalf("scan(%q) ok = %v, json.Valid = %v", b, ok, !ok)
		}
		if !ok || root.n < 0 {
			return
		}
		var check func(raw []byte, kv []field, dup bool)
		check = func(raw []byte, kv []field, dup bool) {
			if !dup {
				seen := map[string]bool{}
				for i := range kv {
					if k := r.keyOf(text, &kv[i]); seen[k] {
						t.Fatalf("%q: duplicate key %q not flagged", raw, k)
					} else {
						seen[k] = true
					}
				}
			}
			want, err := splitObject(raw, nil)
			if err != nil || len(want) != len(kv) {
				t.Fatalf("%q: %d fields, splitObject %d (%v)", raw, len(kv), len(want), err)
			}
			for i := range kv {
				g, w := &kv[i], &want[i]
				key, value := r.keyOf(text, g), b[g.voff:g.vend]
				if key != w.name() || !bytes.Equal(value, w.raw) || !bytes.Equal(b[g.koff:g.kend], w.keyRaw) {
					t.Fatalf("%q: field %d = %q:%q, want %q:%q", raw, i, key, value, w.name(), w.raw)
				}
				if g.tag != keyTag(key) {
					t.Fatalf("%q: tag of %q", raw, key)
				}
				if value[0] == '"' {
					body := value[1 : len(value)-1]
					if (g.flags&strEsc != 0) != (bytes.IndexByte(body, '\\') >= 0) ||
						(g.flags&strHigh != 0) != (bytes.IndexFunc(body, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0) {
						t.Fatalf("%q: flags %b of %q", raw, g.flags, value)
					}
				}
				if value[0] == '{' {
					if g.n < 0 {
						t.Fatalf("%q: object %q not split", raw, value)
					}
					check(value, r.arena[g.sub:g.sub+g.n], g.dup)
					// The slow way splits it the same.
					var r2 reader
					r2.keys = r.keys
					kv2, err := r2.splitAt(value, int(g.voff))
					if err != nil || len(kv2) != int(g.n) {
						t.Fatalf("%q: splitAt: %d fields, %v", value, len(kv2), err)
					}
					for j := range kv2 {
						a, c := &kv2[j], &r.arena[int(g.sub)+j]
						if r2.keyOf(text, a) != r.keyOf(text, c) || a.tag != c.tag || a.koff != c.koff || a.kend != c.kend || a.voff != c.voff || a.vend != c.vend {
							t.Fatalf("%q: splitAt field %d = %+v, want %+v", value, j, *a, *c)
						}
					}
				}
			}
		}
		check(b[root.voff:root.vend], r.arena[root.sub:root.sub+root.n], root.dup)
	})
}

// FuzzUnquote: decodeString and Mapping.decode agree with encoding/json.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"plain"`, `""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`,
		`"\udc00\ud800"`, "\"\xff\xfe\"", "\"caf\xc3\xa9\"", `"\u0000"`, "\"\xed\xa0\x80\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		if json.Unmarshal(raw, &want) != nil || len(raw) == 0 || raw[0] != '"' || len(bytes.TrimSpace(raw)) != len(raw) {
			return // decodeString takes a JSON string as the reader cut it out
		}
		if got, ok := decodeString(raw); !ok || got != want {
			t.Fatalf("decodeString(%q) = %q, %v; want %q", raw, got, ok, want)
		}
		item := append([]byte(`{"k":`), raw...)
		item = append(item, '}')
		m := &Mapping{raw: item, text: string(item)}
		for _, fl := range []uint8{strEsc | strHigh, 0} {
			if fl == 0 {
				_, fl = scanString(item, 5)
			}
			if got, ok := m.decode(item[5:len(item)-1], fl); !ok || got != want {
				t.Fatalf("decode(%q, %b) = %q, %v; want %q", raw, fl, got, ok, want)
			}
		}
	})
}

func TestDuplicateKeys(t *testing.T) {
	doc, problems, err := mapTest(`{"uuid":"U","timestamp":"2021-08-11T14:28:03Z","a":"1","b":"x","a":"2","\u0061":"3","c":{"d":1,"d":2},"b":"y"}`,
		func(m *Mapping, root Object) {
			if s, ok := root.Str("a"); !ok || s != "3" {
				t.Errorf(`Str("a") = %q, %v; want the last, "3"`, s, ok)
			}
			if _, ok := root.Str("a"); ok {
				t.Error(`a second Str("a") found a duplicate`)
			}
			c, ok := root.Obj("c")
			if !ok {
				t.Fatal("no c")
			}
			if n, ok := c.Int("d"); !ok || n != 2 {
				t.Errorf(`Int("d") = %d, %v`, n, ok)
			}
			if c.Len() != 0 {
				t.Errorf("c has %d keys left", c.Len())
			}
		})
	if err != nil || len(problems) != 0 {
		t.Fatalf("problems %q, err %v", problems, err)
	}
	if op := doc["onepassword"].(map[string]interface{}); op["b"] != "y" || op["a"] != nil || op["c"] != nil {
		t.Errorf("onepassword = %v", op)
	}
}
