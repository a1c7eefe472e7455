package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// baseTime is inside a minute (not on a boundary) so rate-limit windows are
// exercised realistically.
var baseTime = time.Date(2025, 11, 1, 12, 0, 10, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newSim builds a server with a fake clock at baseTime unless cfg.Now is set.
func newSim(t testing.TB, cfg Config) (*Server, *fakeClock) {
	t.Helper()
	var clk *fakeClock
	if cfg.Now == nil {
		clk = newFakeClock(baseTime)
		cfg.Now = clk.Now
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clk
}

func counts(si, iu, ae int) map[string]int {
	return map[string]int{SignInAttempts: si, ItemUsages: iu, AuditEvents: ae}
}

func mustToken(t testing.TB, s *Server, opts TokenOptions) string {
	t.Helper()
	tok, err := s.IssueToken(opts)
	if err != nil {
		t.Fatalf("IssueToken: %v", err)
	}
	return tok
}

// do sends one request straight to the handler. authz is the whole
// Authorization header value ("" = none).
func do(t testing.TB, s *Server, method, path, authz, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

type page struct {
	Cursor  string            `json:"cursor"`
	HasMore bool              `json:"has_more"`
	Items   []json.RawMessage `json:"items"`
}

// post sends a POST with a bearer token and decodes a 200 envelope.
func post(t testing.TB, s *Server, path, tok, body string) (int, page) {
	t.Helper()
	rec := do(t, s, http.MethodPost, path, "Bearer "+tok, body)
	var p page
	if rec.Code == http.StatusOK {
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("%s: decoding envelope %q: %v", path, rec.Body.String(), err)
		}
		if p.Items == nil {
			t.Fatalf("%s: items is not an array: %s", path, rec.Body.String())
		}
		if p.Cursor == "" {
			t.Fatalf("%s: empty cursor", path)
		}
	}
	return rec.Code, p
}

func mustPost(t testing.TB, s *Server, path, tok, body string) page {
	t.Helper()
	code, p := post(t, s, path, tok, body)
	if code != http.StatusOK {
		t.Fatalf("POST %s %s: status %d", path, body, code)
	}
	return p
}

func cursorBody(c string) string {
	b, _ := json.Marshal(map[string]string{"cursor": c})
	return string(b)
}

// pageAll follows has_more from a first body; it returns all items and the
// pages' sizes and the final cursor.
func pageAll(t testing.TB, s *Server, path, tok, first string) (items []json.RawMessage, sizes []int, last page) {
	t.Helper()
	p := mustPost(t, s, path, tok, first)
	for n := 0; ; n++ {
		items = append(items, p.Items...)
		sizes = append(sizes, len(p.Items))
		if !p.HasMore {
			return items, sizes, p
		}
		if n > 100000 {
			t.Fatal("paging does not terminate")
		}
		p = mustPost(t, s, path, tok, cursorBody(p.Cursor))
	}
}

type itemHead struct {
	UUID      string `json:"uuid"`
	Timestamp string `json:"timestamp"`
}

func heads(t testing.TB, items []json.RawMessage) []itemHead {
	t.Helper()
	out := make([]itemHead, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
	}
	return out
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func decodeObj(t testing.TB, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func keysOf(m map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}
