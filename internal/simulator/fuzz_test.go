package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// FuzzRequestBody feeds arbitrary bodies to a POST endpoint: the server must
// never panic and must answer 200 (with a well-formed envelope) or 400 (with
// the error body).
func FuzzRequestBody(f *testing.F) {
	clk := newFakeClock(baseTime)
	s, err := New(Config{Seed: 99, Events: counts(200, 200, 200), Span: 3 * time.Hour, Now: clk.Now,
		LiveInterval: time.Minute, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		f.Fatal(err)
	}
	tok, err := s.IssueToken(TokenOptions{})
	if err != nil {
		f.Fatal(err)
	}
	post := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v2/signinattempts", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		return rec
	}
	var first page
	_ = json.Unmarshal(post([]byte(`{"limit":3}`)).Body.Bytes(), &first)
	for _, seed := range []string{
		"", "{}", "null", `{"limit":10}`, `{"limit":1.5}`, `{"limit":"10"}`, `{"limit":1e3}`,
		`{"start_time":"2025-11-01T10:00:00Z","end_time":"2025-11-01T11:00:00.5-01:00"}`,
		`{"start_time":"0000-01-01T00:00:00Z"}`, `{"end_time":"9999-12-31T23:59:59.999999999Z"}`,
		`{"cursor":"abc"}`, `{"cursor":"` + first.Cursor + `"}`, `{"cursor":"` + first.Cursor + `","limit":5}`,
		`[]`, `"x"`, `{"limit":`, `{"a":{"b":[1,2,{"c":null}]}}`, "\xff\xfe", `{"limit":-0}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(body)
		switch rec.Code {
		case http.StatusOK:
			var p page
			dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&p); err != nil || p.Cursor == "" || p.Items == nil {
				t.Fatalf("bad 200 envelope for %q: %s", body, rec.Body.String())
			}
			if len(p.Items) > MaxLimit {
				t.Fatalf("%d items", len(p.Items))
			}
		case http.StatusBadRequest:
			if rec.Body.String() != `{"Error":{"Message":"Bad Request"}}` {
				t.Fatalf("bad 400 body: %s", rec.Body.String())
			}
		default:
			t.Fatalf("status %d for body %q", rec.Code, body)
		}
	})
}

func BenchmarkPage1000(b *testing.B) {
	clk := newFakeClock(baseTime)
	s, err := New(Config{Seed: 1, Events: counts(0, 0, 1_000_000), Span: 100 * 24 * time.Hour, Now: clk.Now,
		RateLimitPerMinute: -1, RateLimitPerHour: -1})
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := s.IssueToken(TokenOptions{})
	req := func(body string) page {
		r := httptest.NewRequest(http.MethodPost, "/api/v2/auditevents", bytes.NewReader([]byte(body)))
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, r)
		var p page
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
			b.Fatal(err)
		}
		return p
	}
	first := req(`{"limit":1000,"start_time":"2025-01-01T00:00:00Z"}`)
	b.ResetTimer()
	p := first
	for i := 0; i < b.N; i++ {
		if !p.HasMore {
			p = first
		}
		p = req(cursorBody(p.Cursor))
	}
}
