package module

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testOpts = MapOptions{Received: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}

func mapTest(item string, body Body) (map[string]interface{}, []string, error) {
	ev, err := MapItem("test", "1password.test", []byte(item), testOpts, body)
	var problems []string
	switch m, _ := ev.Fields.GetValue("error.message"); v := m.(type) {
	case string:
		problems = []string{v}
	case []string:
		problems = v
	}
	b, _ := json.Marshal(ev.Fields)
	var doc map[string]interface{}
	_ = json.Unmarshal(b, &doc)
	return doc, problems, err
}

func TestDocumentID(t *testing.T) {
	raw := []byte(`{"a":1}`)
	for _, c := range []struct {
		uuid string
		hash bool
	}{
		{"HGIF4OEWXDTVWKEQDIWTKV26HU", false},
		{"second (and last) event", false},
		{"", true},
		{strings.Repeat("A", maxIDLen), false},
		{strings.Repeat("A", maxIDLen+1), true},
		{"a\tb", true},
		{"a\x7fb", true},
		{"\xff\xfe", true},
	} {
		id := DocumentID("x", c.uuid, raw)
		if c.hash {
			if len(id) != 2+64 || !strings.HasPrefix(id, "x-") {
				t.Errorf("%q: id %q, want a hash", c.uuid, id)
			}
		} else if id != "x-"+c.uuid {
			t.Errorf("%q: id %q", c.uuid, id)
		}
	}
	if DocumentID("x", "", raw) != DocumentID("x", "", []byte(`{"a":1}`)) {
		t.Error("hash id is not stable")
	}
	if DocumentID("x", "", raw) == DocumentID("x", "", []byte(`{"a":2}`)) {
		t.Error("hash id ignores the content")
	}
	if DocumentID("x", "", raw) == DocumentID("y", "", raw) {
		t.Error("hash id ignores the type")
	}
}

func TestParseIP(t *testing.T) {
	for in, want := range map[string]string{
		"89.160.20.156":    "89.160.20.156",
		"2001:DB8::1":      "2001:db8::1",
		"::ffff:192.0.2.1": "::ffff:192.0.2.1",
		"::":               "::",
		"fe80::1%eth0":     "",
		"1.1.1.1.1":        "",
		"01.2.3.4":         "",
		" 1.2.3.4":         "",
		"":                 "",
		"localhost":        "",
		"1.2.3.4/24":       "",
	} {
		got, ok := ParseIP(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseIP(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestSchema(t *testing.T) {
	for path, want := range map[string]string{
		"used_version":       "long",
		"aux_id":             "long",
		"session":            "group",
		"session.login_time": "date",
		"client":             "group",
		"client.app_name":    "keyword",
		"details.value":      "keyword",
		"uuid":               "keyword",
		"no_such_field":      "",
		"client.no_such":     "",
	} {
		if got := fieldType(path); got != want {
			t.Errorf("fieldType(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestDecodeString(t *testing.T) {
	for raw, want := range map[string]string{
		`"plain"`:           "plain",
		`""`:                "",
		`"a\"b"`:            `a"b`,
		`"\u00e9t\u00e9"`:   "été",
		`"tab\there"`:       "tab\there",
		"\"caf\xc3\xa9\"":   "café",
		"\"bad \xff byte\"": "bad \uFFFD byte",
	} {
		got, ok := decodeString(json.RawMessage(raw))
		if !ok || got != want {
			t.Errorf("decodeString(%q) = %q, %v; want %q", raw, got, ok, want)
		}
	}
	if _, ok := decodeString(json.RawMessage(`12`)); ok {
		t.Error("a number decoded as a string")
	}
}

func TestSnippetTruncatesOnARuneBoundary(t *testing.T) {
	s := snippet([]byte(`"` + strings.Repeat("é", 100) + `"`))
	if !utf8.ValidString(s) || len(s) > maxSnippet+len("…") {
		t.Errorf("snippet = %q", s)
	}
	q := quote(strings.Repeat("日", 100))
	if !utf8.ValidString(q) {
		t.Errorf("quote = %q", q)
	}
}

func TestPanicInBodyKeepsTheEvent(t *testing.T) {
	doc, problems, err := mapTest(`{"uuid":"U","timestamp":"2021-08-11T14:28:03Z"}`, func(m *Mapping, root Object) {
		m.Put("event.action", "x")
		var nilMap map[string]int
		nilMap["boom"] = 1
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "internal mapping error") {
		t.Errorf("problems = %q", problems)
	}
	if ev := doc["event"].(map[string]interface{}); ev["id"] != "U" || ev["action"] != "x" {
		t.Errorf("event = %v", ev)
	}
}

func TestProblemsAreCapped(t *testing.T) {
	_, problems, err := mapTest(`{}`, func(m *Mapping, root Object) {
		for i := 0; i < 2*maxProblems; i++ {
			m.Problemf("p%d", i)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != maxProblems+1 || !strings.Contains(problems[maxProblems], fmt.Sprint(maxProblems+2)+" more problems") {
		t.Errorf("%d problems, last %q", len(problems), problems[len(problems)-1])
	}
}

func TestRestDoesNotOverwrite(t *testing.T) {
	doc, problems, err := mapTest(`{"uuid":"U","timestamp":"2021-08-11T14:28:03Z","user_type":"root-level","target_user":{"user_type":"user"},"x.y":1,"x_y":2}`,
		func(m *Mapping, root Object) {
			if u, ok := root.Obj("target_user"); ok {
				m.UserObject(u)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	op := doc["onepassword"].(map[string]interface{})
	if op["user_type"] != "user" {
		t.Errorf("onepassword.user_type = %v", op["user_type"])
	}
	want := []string{"user_type: unknown field left out, it would overwrite onepassword.user_type", `"x.y": unknown field renamed to x_y`, "x_y: unknown field left out"}
	if len(problems) != len(want) {
		t.Fatalf("problems = %q", problems)
	}
	for i := range want {
		if !strings.Contains(problems[i], want[i]) {
			t.Errorf("problem %d = %q, want %q", i, problems[i], want[i])
		}
	}
}

func TestInt(t *testing.T) {
	for raw, want := range map[string]interface{}{
		`7`: int64(7), `-7`: int64(-7), `7.0`: int64(7), `1e3`: int64(1000), `"12"`: int64(12), `" 12 "`: int64(12),
		`9223372036854775807`: int64(9223372036854775807), `9223372036854775808`: nil, `1.5`: nil, `"x"`: nil,
		`true`: nil, `{}`: nil, `[]`: nil, `null`: nil,
	} {
		var got interface{}
		_, _, err := mapTest(`{"n":`+raw+`}`, func(m *Mapping, root Object) {
			if n, ok := root.Int("n"); ok {
				got = n
			}
		})
		if err != nil || got != want {
			t.Errorf("Int(%s) = %v (%v), want %v", raw, got, err, want)
		}
	}
}
