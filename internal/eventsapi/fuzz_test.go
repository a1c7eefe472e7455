package eventsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSampleSeeds adds every conformance sample (when the shared directory is
// present) so fuzzing starts from real API shapes.
func addSampleSeeds(f *testing.F, add func([]byte)) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			add(b)
		}
	}
}

func FuzzDecodePage(f *testing.F) {
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `"x"`, `{"cursor":"c"}`, `{"cursor":""}`, `{"cursor":null}`,
		`{"cursor":"c","has_more":true,"items":[]}`, `{"cursor":"c","has_more":false,"items":null}`,
		`{"cursor":"c","items":[{"uuid":"56YE2TYN2VFYRLNSHKPW5NVT5E"},null,1]}`,
		`{"cursor":"c","items":[{"uuid":`, `{"cursor":12,"items":{}}`, `{"cursor":"c"} trailing`,
		`{"Error":{"Message":"Unauthorized"}}`, `{"status":500,"message":"boom\n\u001b[31m"}`,
		"<html>\x00\xff</html>", "\ufeff{\"cursor\":\"c\"}",
	} {
		f.Add([]byte(s))
	}
	addSampleSeeds(f, func(b []byte) { f.Add(b) })

	tok, raw := testToken(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodePage(body)
		switch {
		case err == nil && page == nil:
			t.Fatal("neither a page nor an error")
		case err != nil && page != nil:
			t.Fatal("both a page and an error")
		case err != nil:
			var e *Error
			if !errors.As(error(err), &e) || e.Kind != KindTransient || !Retryable(err) {
				t.Fatalf("not a transient *Error: %#v", err)
			}
			s := err.Error()
			assertOneLine(t, "error", s)
			if len(body) >= 24 && strings.Contains(s, string(body)) {
				t.Fatalf("error quotes the body: %q", s)
			}
		default:
			if page.Cursor == "" || page.Items == nil {
				t.Fatalf("page without cursor or with nil items: %+v", page)
			}
			// The envelope must really hold what the page says.
			var env map[string]json.RawMessage
			if json.Unmarshal(body, &env) != nil {
				t.Fatal("a page was decoded from invalid JSON")
			}
			for i, it := range page.Items {
				if !json.Valid(it) {
					t.Fatalf("item %d is not valid JSON", i)
				}
			}
		}

		// The same bytes as an error body: the message is one capped line
		// whatever the body holds, and never carries the token.
		msg := errorMessage(400, append(body, []byte(raw)...), tok)
		assertOneLine(t, "message", msg)
		if n := utf8.RuneCountInString(msg); n > maxMessageLen+1 {
			t.Fatalf("message has %d runes", n)
		}
		assertNoSecret(t, "message", msg, raw)
		if _, derr := decodeIntrospection("v2", body); derr != nil {
			assertOneLine(t, "introspection error", derr.Error())
		}
	})
}

func FuzzParseToken(f *testing.F) {
	valid := makeJWT(f, es256Header, validClaims())
	f.Add(valid)
	f.Add(" " + valid + "\n")
	f.Add(makeJWT(f, map[string]any{"alg": "HS256"}, validClaims()))
	f.Add(makeJWT(f, es256Header, map[string]any{"aud": "events.1password.com", "1password.com/fts": []string{}}))
	f.Add(makeJWT(f, es256Header, []byte(`{"1password.com/fts":["x"],"exp":1e308,"iat":-1.5,"aud":[1]}`)))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	f.Add("Bearer " + valid)
	f.Fuzz(func(t *testing.T, raw string) {
		tok, err := ParseToken(raw)
		if err != nil {
			s := err.Error()
			assertOneLine(t, "error", s)
			if trimmed := strings.TrimSpace(raw); len(trimmed) >= 40 && strings.Contains(s, trimmed) {
				t.Fatalf("error contains the input: %q", s)
			}
			parts := strings.Split(strings.TrimSpace(raw), ".")
			if len(parts) == 3 && len(parts[2]) >= 16 && strings.Contains(s, parts[2]) {
				t.Fatalf("error contains the signature: %q", s)
			}
			if !tok.IsZero() {
				t.Fatal("non-zero Token with an error")
			}
			return
		}
		if tok.IsZero() || tok.Bearer() != "Bearer "+strings.TrimSpace(raw) {
			t.Fatal("parsed token lost its raw form")
		}
		for _, s := range []string{tok.String(), tok.GoString(), string(mustJSON(t, tok))} {
			assertNoSecret(t, "output", s, strings.TrimSpace(raw))
		}
		_, _ = tok.BaseURL()
		_ = tok.Expired(tok.IssuedAt)
	})
}

func FuzzParseResetCursor(f *testing.F) {
	for _, s := range []string{
		"{ \"limit\": 1000, \"start_time\": \"2020-01-01T00:00:00Z\" }\n",
		"", "{}", "null", "[]", `{"cursor":"x"}`, `{"limit":1e3}`, `{"limit":-0}`, `{"limit":1000.0000000001}`,
		`{"start_time":"2020-01-01T00:00:00.123456789+14:00","end_time":"2020-01-01T00:00:00-12:00"}`,
		`{"limit":"5"}`, `{"limit":1,"limit":2000}`,
	} {
		f.Add(s)
	}
	if b, err := os.ReadFile(filepath.Join(samplesDir, "official-openapi-1.2.0-request-examples.json")); err == nil {
		var ex map[string]json.RawMessage
		if json.Unmarshal(b, &ex) == nil {
			for _, v := range ex {
				f.Add(string(v))
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		rc, err := ParseResetCursor(s)
		if err != nil {
			assertOneLine(t, "error", err.Error())
			return
		}
		if err := rc.Validate(); err != nil {
			t.Fatalf("parsed value does not validate: %v", err)
		}
		// What we send parses back to the same value.
		body, err := Request{Reset: rc}.body()
		if err != nil {
			t.Fatalf("encoding a parsed ResetCursor: %v", err)
		}
		again, err := ParseResetCursor(string(body))
		if err != nil {
			t.Fatalf("re-parsing %s: %v", body, err)
		}
		if again.Limit != rc.Limit || !eqTime(again.StartTime, rc.StartTime) || !eqTime(again.EndTime, rc.EndTime) {
			t.Fatalf("round trip %s: %+v != %+v", body, again, rc)
		}
		if body2, _ := (Request{Reset: again}).body(); !bytes.Equal(body, body2) {
			t.Fatalf("encoding is not stable: %s vs %s", body, body2)
		}
	})
}
