package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireSim is a started simulator with a client, for faults that only exist on
// a real connection (resets, bodies cut mid-stream).
type wireSim struct {
	s      *Server
	clk    *fakeClock
	base   string
	tok    string
	client *http.Client
}

func startSim(t *testing.T, cfg Config) *wireSim {
	t.Helper()
	s, clk := newSim(t, cfg)
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	return &wireSim{s: s, clk: clk, base: base, tok: mustToken(t, s, TokenOptions{}), client: client}
}

// wireResult is what a client observed for one request.
type wireResult struct {
	err     error // transport error (no response)
	readErr error // error while reading the body
	status  int
	ctype   string
	clen    string
	retry   string
	body    []byte
}

func (w *wireSim) post(t *testing.T, path, body string) wireResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return wireResult{err: err}
	}
	defer resp.Body.Close()
	b, rerr := io.ReadAll(resp.Body)
	return wireResult{readErr: rerr, status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"),
		clen: resp.Header.Get("Content-Length"), retry: resp.Header.Get("Retry-After"), body: b}
}

// classify names the fault a response shows, checking that it looks as
// documented; full is the response the request gets without faults.
func classify(t *testing.T, r wireResult, full []byte, shape string) string {
	t.Helper()
	errBody := func(status int) string {
		if shape == ErrorShapeV141 {
			return fmt.Sprintf(`{"status":%d,"message":%q}`, status, http.StatusText(status))
		}
		return fmt.Sprintf(`{"Error":{"Message":%q}}`, http.StatusText(status))
	}
	switch {
	case r.err != nil:
		return FaultReset
	case r.readErr != nil:
		if !errors.Is(r.readErr, io.ErrUnexpectedEOF) || r.status != 200 || r.clen != strconv.Itoa(len(full)) ||
			len(r.body) >= len(full) || !bytes.HasPrefix(full, r.body) {
			t.Fatalf("bad aborted body: %v %d CL=%s %q", r.readErr, r.status, r.clen, r.body)
		}
		return FaultTruncate
	case r.status == 500 || r.status == 502 || r.status == 503:
		if string(r.body) != errBody(r.status) || r.ctype != "application/json" {
			t.Fatalf("bad %d: %s %s", r.status, r.ctype, r.body)
		}
		return FaultServerError
	case r.status == 429:
		if string(r.body) != errBody(429) {
			t.Fatalf("bad 429: %s", r.body)
		}
		return FaultRateLimitStorm
	case r.status == 200 && r.ctype == htmlContentType:
		if !bytes.HasPrefix(r.body, []byte("<!DOCTYPE html>")) || json.Valid(r.body) {
			t.Fatalf("bad HTML page: %s", r.body)
		}
		return FaultNonJSON
	case r.status == 200 && bytes.Equal(r.body, full):
		return "ok"
	case r.status == 200:
		if r.clen != strconv.Itoa(len(r.body)) || len(r.body) >= len(full) || !bytes.HasPrefix(full, r.body) || json.Valid(r.body) {
			t.Fatalf("bad truncated body: CL=%s %q", r.clen, r.body)
		}
		return FaultTruncate
	}
	t.Fatalf("unexpected response %d %s %s", r.status, r.ctype, r.body)
	return ""
}

// within reports whether count is a plausible Binomial(n, p) draw (5 sigma).
func within(count, n int, p float64) bool {
	mean := float64(n) * p
	sd := math.Sqrt(float64(n) * p * (1 - p))
	return math.Abs(float64(count)-mean) <= 5*sd+1
}

const faultPath = "/api/v2/signinattempts"

func TestFaultRatios(t *testing.T) {
	const n = 2000
	cases := []struct {
		name   string
		faults Faults
		shape  string
		kind   string
		ratio  float64
		want   int // exact: the PRNG is seeded (Seed 21); pinned so tests built on it stay reproducible
	}{
		{"server error", Faults{ServerErrorRatio: 0.1}, ErrorShapeLegacy, FaultServerError, 0.1, 211},
		{"server error v141", Faults{ServerErrorRatio: 0.3}, ErrorShapeV141, FaultServerError, 0.3, 610},
		{"truncate", Faults{TruncateRatio: 0.2}, ErrorShapeLegacy, FaultTruncate, 0.2, 402},
		{"truncate abort", Faults{TruncateRatio: 0.2, TruncateAbort: true}, ErrorShapeLegacy, FaultTruncate, 0.2, 402},
		{"non-JSON", Faults{NonJSONRatio: 0.05}, ErrorShapeLegacy, FaultNonJSON, 0.05, 82},
		{"reset", Faults{ResetRatio: 0.1}, ErrorShapeLegacy, FaultReset, 0.1, 211},
		{"storm", Faults{RateLimitStormRatio: 0.25}, ErrorShapeLegacy, FaultRateLimitStorm, 0.25, 499},
		{"stall", Faults{StallRatio: 0.15, Stall: time.Microsecond}, ErrorShapeLegacy, FaultStall, 0.15, 307},
		{"always", Faults{ServerErrorRatio: 1}, ErrorShapeLegacy, FaultServerError, 1, n},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := startSim(t, Config{Seed: 21, Events: counts(100, 0, 0), Span: time.Hour, ErrorShape: tc.shape,
				RateLimitPerMinute: -1, RateLimitPerHour: -1, RetryAfter: true})
			first := w.post(t, faultPath, `{"limit":3}`)
			var p page
			if err := json.Unmarshal(first.body, &p); err != nil || len(p.Items) != 3 {
				t.Fatalf("first page: %v %s", err, first.body)
			}
			body := cursorBody(p.Cursor)
			full := w.post(t, faultPath, body).body
			w.s.ResetStats()
			w.s.SetFaults(tc.faults)

			seen := map[string]int{}
			var statuses []int
			for i := 0; i < n; i++ {
				r := w.post(t, faultPath, body)
				k := classify(t, r, full, tc.shape)
				seen[k]++
				if k == FaultServerError {
					statuses = append(statuses, r.status)
				}
				if k == FaultRateLimitStorm && r.retry != "50" { // 12:00:10 -> 50 s to the minute's end
					t.Fatalf("storm Retry-After %q", r.retry)
				}
			}
			st := w.s.Stats()
			got := seen[tc.kind]
			if tc.kind == FaultStall { // a stall is then answered normally
				got = st.Faults[FaultStall]
				if seen["ok"] != n || st.Aborted != 0 {
					t.Fatalf("stall: %v, aborted %d", seen, st.Aborted)
				}
			} else if seen[tc.kind]+seen["ok"] != n {
				t.Fatalf("other outcomes: %v", seen)
			}
			if !within(got, n, tc.ratio) || got != tc.want {
				t.Errorf("%s: %d of %d, want %d (about %v)", tc.kind, got, n, tc.want, tc.ratio*n)
			}
			if st.Faults[tc.kind] != got || len(st.Faults) != 1 {
				t.Errorf("Stats.Faults %v, want %s=%d", st.Faults, tc.kind, got)
			}
			for i, s := range statuses {
				if want := []int{500, 502, 503}[i%3]; s != want {
					t.Fatalf("server error %d: %d, want %d (rotation)", i, s, want)
				}
			}
			// Every answered request is counted under its status; resets and
			// injected 429s are not budget 429s; truncated pages serve no items.
			answered := n - seen[FaultReset]
			if st.Requests != answered || st.ByPath[faultPath] != answered || st.RateLimited != 0 {
				t.Errorf("Requests %d ByPath %d RateLimited %d, want %d answered", st.Requests, st.ByPath[faultPath], st.RateLimited, answered)
			}
			if st.ByStatus[429] != seen[FaultRateLimitStorm] {
				t.Errorf("ByStatus[429] %d, storms %d", st.ByStatus[429], seen[FaultRateLimitStorm])
			}
			if st.ItemsServed[SignInAttempts] != 3*seen["ok"] {
				t.Errorf("ItemsServed %d, want %d", st.ItemsServed[SignInAttempts], 3*seen["ok"])
			}
			if len(w.s.RequestTimes()) != n {
				t.Errorf("RequestTimes: %d", len(w.s.RequestTimes()))
			}

			// Faults{} turns them off.
			w.s.SetFaults(Faults{})
			for i := 0; i < 200; i++ {
				if k := classify(t, w.post(t, faultPath, body), full, tc.shape); k != "ok" {
					t.Fatalf("after SetFaults(Faults{}): %s", k)
				}
			}
			if f := w.s.Stats().Faults; !reflect.DeepEqual(f, st.Faults) {
				t.Errorf("faults counted while off: %v -> %v", st.Faults, f)
			}
		})
	}
}

// outcomes sends n requests through the handler and names each outcome.
func outcomes(t *testing.T, s *Server, tok, path, body string, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		rec := do(t, s, http.MethodPost, path, "Bearer "+tok, body)
		out[i] = strconv.Itoa(rec.Code)
		if rec.Code == 200 && rec.Header().Get("Content-Type") == htmlContentType {
			out[i] = "html"
		} else if rec.Code == 200 && !json.Valid(rec.Body.Bytes()) {
			out[i] = "cut" + strconv.Itoa(rec.Body.Len())
		}
	}
	return out
}

func TestFaultsDeterministic(t *testing.T) {
	mixed := Faults{ServerErrorRatio: 0.1, TruncateRatio: 0.1, NonJSONRatio: 0.1, RateLimitStormRatio: 0.1,
		StallRatio: 0.1, Stall: time.Microsecond}
	run := func(seed int64, interleave bool) []string {
		s, _ := newSim(t, Config{Seed: seed, Events: counts(20, 20, 20), RateLimitPerMinute: -1, RateLimitPerHour: -1})
		tok := mustToken(t, s, TokenOptions{})
		s.SetFaults(mixed)
		var out []string
		for i := 0; i < 300; i++ {
			if interleave && i%3 == 0 { // other types draw from their own sequences
				outcomes(t, s, tok, "/api/v1/auditevents", `{"limit":2}`, 2)
			}
			out = append(out, outcomes(t, s, tok, "/api/v2/itemusages", `{"limit":2}`, 1)...)
		}
		return out
	}
	a := run(5, false)
	if b := run(5, true); !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different outcomes:\n%v\n%v", a, b)
	}
	if c := run(6, false); reflect.DeepEqual(a, c) {
		t.Fatal("different seeds, same outcomes")
	}
	faulted := 0
	for _, o := range a {
		if o != "200" {
			faulted++
		}
	}
	if !within(faulted, 300, 0.4) { // stalls answer 200
		t.Errorf("%d of 300 faulted", faulted)
	}

	t.Run("SetFaults restarts the sequence", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 5, Events: counts(20, 20, 20), RateLimitPerMinute: -1, RateLimitPerHour: -1})
		tok := mustToken(t, s, TokenOptions{})
		s.SetFaults(mixed)
		first := outcomes(t, s, tok, "/api/v2/itemusages", `{"limit":2}`, 100)
		s.SetFaults(mixed)
		if again := outcomes(t, s, tok, "/api/v2/itemusages", `{"limit":2}`, 100); !reflect.DeepEqual(first, again) {
			t.Fatalf("after SetFaults:\n%v\n%v", first, again)
		}
		if !reflect.DeepEqual(first, a[:100]) {
			t.Fatalf("differs from a fresh server:\n%v\n%v", first, a[:100])
		}
	})
}

// TestFaultsDoNotAdvanceCursors pages through every event with a client that
// retries the same cursor after any failure: it must get exactly the pages a
// server without faults serves.
func TestFaultsDoNotAdvanceCursors(t *testing.T) {
	for _, abort := range []bool{false, true} {
		t.Run(fmt.Sprintf("abort=%v", abort), func(t *testing.T) {
			cfg := Config{Seed: 31, Events: counts(0, 0, 500), Span: 2 * time.Hour, RateLimitPerMinute: -1, RateLimitPerHour: -1}
			clean, _ := newSim(t, cfg)
			cleanTok := mustToken(t, clean, TokenOptions{})
			w := startSim(t, cfg)
			w.s.SetFaults(Faults{ServerErrorRatio: 0.15, TruncateRatio: 0.15, TruncateAbort: abort, NonJSONRatio: 0.1,
				ResetRatio: 0.1, RateLimitStormRatio: 0.1, StallRatio: 0.1, Stall: time.Millisecond})

			const path = "/api/v1/auditevents"
			body := `{"limit":7,"start_time":"2025-11-01T09:00:00Z"}`
			attempts, pages := 0, 0
			for {
				want := do(t, clean, http.MethodPost, path, "Bearer "+cleanTok, body)
				if want.Code != 200 {
					t.Fatalf("clean server: %d", want.Code)
				}
				var got wireResult
				for {
					attempts++
					if attempts > 5000 {
						t.Fatal("no progress")
					}
					got = w.post(t, path, body)
					if got.err == nil && got.readErr == nil && got.status == 200 && json.Valid(got.body) &&
						got.ctype == "application/json" {
						break
					}
				}
				if !bytes.Equal(got.body, want.Body.Bytes()) {
					t.Fatalf("page %d differs:\n%s\n%s", pages, got.body, want.Body.Bytes())
				}
				pages++
				var p page
				_ = json.Unmarshal(got.body, &p)
				if !p.HasMore {
					break
				}
				body = cursorBody(p.Cursor)
			}
			st, cst := w.s.Stats(), clean.Stats()
			if !reflect.DeepEqual(st.ItemsServed, cst.ItemsServed) || st.ByStatus[200]-st.Faults[FaultNonJSON]-st.Faults[FaultTruncate] != pages {
				t.Errorf("stats %+v vs clean %+v (%d pages)", st, cst, pages)
			}
			if len(w.s.RequestTimes()) != attempts {
				t.Errorf("RequestTimes %d, attempts %d", len(w.s.RequestTimes()), attempts)
			}
			faults := 0
			for _, k := range []string{FaultServerError, FaultTruncate, FaultNonJSON, FaultReset, FaultRateLimitStorm} {
				if st.Faults[k] == 0 {
					t.Errorf("no %s injected: %v", k, st.Faults)
				}
				faults += st.Faults[k]
			}
			if attempts-faults != pages {
				t.Errorf("%d attempts, %d faults, %d pages", attempts, faults, pages)
			}
			t.Logf("%d pages, %d attempts, faults %v", pages, attempts, st.Faults)
		})
	}
}

func TestFaultTypesFilter(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 3, Events: counts(5, 5, 5), RateLimitPerMinute: -1})
	tok := mustToken(t, s, TokenOptions{})
	s.SetFaults(Faults{ServerErrorRatio: 1, Types: []string{ItemUsages}})
	var got []int
	for i := 0; i < 4; i++ {
		for _, p := range []string{"/api/v1/itemusages", "/api/v2/itemusages"} {
			got = append(got, do(t, s, http.MethodPost, p, "Bearer "+tok, "{}").Code)
		}
		for _, p := range []string{"/api/v1/signinattempts", "/api/v2/signinattempts", "/api/v1/auditevents", "/api/v2/auditevents"} {
			if c := do(t, s, http.MethodPost, p, "Bearer "+tok, "{}").Code; c != 200 {
				t.Errorf("%s: %d", p, c)
			}
		}
		for _, p := range []string{"/api/auth/introspect", "/api/v2/auth/introspect"} {
			if c := do(t, s, http.MethodGet, p, "Bearer "+tok, "").Code; c != 200 {
				t.Errorf("%s: %d", p, c)
			}
		}
	}
	// v1 and v2 of a type share one rotation.
	if want := []int{500, 502, 503, 500, 502, 503, 500, 502}; !reflect.DeepEqual(got, want) {
		t.Errorf("itemusages statuses %v, want %v", got, want)
	}
	if st := s.Stats(); st.Faults[FaultServerError] != 8 || st.ByStatus[200] != 24 {
		t.Errorf("stats %+v", st)
	}

	// nil Types: all event types, still never introspection.
	s.SetFaults(Faults{RateLimitStormRatio: 1})
	for _, p := range []string{"/api/v1/signinattempts", "/api/v2/itemusages", "/api/v1/auditevents"} {
		if c := do(t, s, http.MethodPost, p, "Bearer "+tok, "{}").Code; c != 429 {
			t.Errorf("%s: %d", p, c)
		}
	}
	if c := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tok, "").Code; c != 200 {
		t.Errorf("introspect: %d", c)
	}
	// Wrong method and unknown paths are not faulted either.
	if c := do(t, s, http.MethodGet, "/api/v2/itemusages", "Bearer "+tok, "").Code; c != 405 {
		t.Errorf("GET events: %d", c)
	}
	if c := do(t, s, http.MethodPost, "/api/v3/itemusages", "Bearer "+tok, "").Code; c != 404 {
		t.Errorf("unknown path: %d", c)
	}
}

func TestFaultsAndRateLimitBudget(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 8, Events: counts(5, 5, 5), RateLimitPerMinute: 5, RateLimitPerHour: -1, RetryAfter: true})
	tok := mustToken(t, s, TokenOptions{})
	req := func() *httptest.ResponseRecorder {
		return do(t, s, http.MethodPost, "/api/v2/auditevents", "Bearer "+tok, "{}")
	}
	// A storm uses no budget and is not a budget 429.
	s.SetFaults(Faults{RateLimitStormRatio: 1})
	for i := 0; i < 20; i++ {
		rec := req()
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "50" {
			t.Fatalf("storm: %d %q", rec.Code, rec.Header().Get("Retry-After"))
		}
	}
	// Neither do the other faults (stalls are answered, and charged, normally).
	s.SetFaults(Faults{ServerErrorRatio: 0.25, TruncateRatio: 0.25, NonJSONRatio: 0.25, StallRatio: 0.25, Stall: time.Microsecond})
	ok := 0
	for i := 0; i < 200; i++ {
		switch rec := req(); {
		case rec.Code == 200 && json.Valid(rec.Body.Bytes()) && rec.Header().Get("Content-Type") == "application/json":
			ok++
		case rec.Code == 429:
			if rec.Header().Get("Retry-After") != "50" {
				t.Fatalf("budget 429 Retry-After %q", rec.Header().Get("Retry-After"))
			}
		}
	}
	st := s.Stats()
	if ok != 5 || st.Faults[FaultRateLimitStorm] != 20 || st.RateLimited != st.Faults[FaultStall]-5 ||
		st.ByStatus[429] != 20+st.RateLimited {
		t.Fatalf("ok %d, stats %+v", ok, st)
	}
	s.SetFaults(Faults{})
	if c := req().Code; c != 429 {
		t.Fatalf("budget used up, got %d", c)
	}
	clk.Advance(50 * time.Second)
	for i := 0; i < 5; i++ {
		if c := req().Code; c != 200 {
			t.Fatalf("new window, request %d: %d", i, c)
		}
	}
}

func TestSetRateLimits(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 8, RateLimitPerMinute: -1})
	tok := mustToken(t, s, TokenOptions{})
	okCount := func(n int) int {
		ok := 0
		for i := 0; i < n; i++ {
			if do(t, s, http.MethodPost, "/api/v2/auditevents", "Bearer "+tok, "{}").Code == 200 {
				ok++
			}
		}
		return ok
	}
	steps := []struct {
		perMin, perHour int
		advance         time.Duration
		n, wantOK       int
	}{
		{-1, -1, 0, 50, 50},        // disabled (admitted requests still count)
		{60, -1, 0, 20, 10},        // 50 used in this minute
		{80, -1, 0, 30, 20},        // raised while serving
		{3, -1, time.Minute, 5, 3}, // new minute window
		{-1, 100, 0, 100, 100 - 83},
		{0, 0, time.Hour, 700, DefaultRateLimitPerMinute}, // defaults
	}
	for i, st := range steps {
		s.SetRateLimits(st.perMin, st.perHour)
		clk.Advance(st.advance)
		if got := okCount(st.n); got != st.wantOK {
			t.Fatalf("step %d: %d ok, want %d", i, got, st.wantOK)
		}
	}
}

func TestRevokeUnrevoke(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 4, Events: counts(5, 5, 5)})
	a := mustToken(t, s, TokenOptions{})
	b := mustToken(t, s, TokenOptions{})
	c := mustToken(t, s, TokenOptions{Features: []string{AuditEvents}})
	check := func(step string, want map[string]int) {
		t.Helper()
		for name, tok := range map[string]string{"a": a, "b": b, "c": c} {
			if got := do(t, s, http.MethodPost, "/api/v2/auditevents", "Bearer "+tok, "{}").Code; got != want[name] {
				t.Errorf("%s: token %s events: %d, want %d", step, name, got, want[name])
			}
			if got := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tok, "").Code; got != want[name] {
				t.Errorf("%s: token %s introspect: %d, want %d", step, name, got, want[name])
			}
		}
	}
	check("fresh", map[string]int{"a": 200, "b": 200, "c": 200})
	s.Revoke(a)
	s.Revoke(" " + a + " ") // idempotent
	check("a revoked", map[string]int{"a": 401, "b": 200, "c": 200})
	s.Revoke(c)
	check("a, c revoked", map[string]int{"a": 401, "b": 200, "c": 401})
	s.Unrevoke(a)
	check("a restored", map[string]int{"a": 200, "b": 200, "c": 401})
	s.Unrevoke(b) // not revoked: no-op
	s.Unrevoke("not a token")
	check("no-ops", map[string]int{"a": 200, "b": 200, "c": 401})
	s.Unrevoke(c)
	check("all restored", map[string]int{"a": 200, "b": 200, "c": 200})
}

func TestRequestTimes(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 2, Events: counts(5, 5, 5), RateLimitPerMinute: 2})
	tok := "Bearer " + mustToken(t, s, TokenOptions{})
	var want []time.Time
	step := func(method, path, authz string, counted bool) {
		clk.Advance(time.Second)
		do(t, s, method, path, authz, "{}")
		if counted {
			want = append(want, clk.Now())
		}
	}
	step(http.MethodPost, "/api/v2/signinattempts", tok, true)
	step(http.MethodPost, "/api/v1/itemusages", "", true) // 401
	step(http.MethodGet, "/api/v2/auth/introspect", tok, false)
	step(http.MethodGet, "/api/auth/introspect", tok, false) // 429: the budget of 2 is used
	step(http.MethodPost, "/api/v1/auditevents", tok, true)  // 429
	step(http.MethodGet, "/api/v2/auditevents", tok, false)  // 405
	step(http.MethodPost, "/nowhere", tok, false)
	s.SetFaults(Faults{ServerErrorRatio: 1})
	step(http.MethodPost, "/api/v2/itemusages", tok, true)
	if got := s.RequestTimes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("RequestTimes\n%v, want\n%v", got, want)
	}
	if st := s.Stats(); st.RateLimited != 2 || st.ByStatus[401] != 1 || st.Faults[FaultServerError] != 1 {
		t.Errorf("stats %+v", st)
	}
	got := s.RequestTimes()
	got[0] = time.Time{}
	if s.RequestTimes()[0].IsZero() {
		t.Error("RequestTimes shares its slice")
	}
	s.ResetStats()
	if len(s.RequestTimes()) != 0 {
		t.Error("ResetStats kept RequestTimes")
	}

	t.Run("bounded", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 2})
		for i := 0; i < maxRequestTimes+5; i++ {
			s.recordReceived(baseTime.Add(time.Duration(i)))
		}
		got := s.RequestTimes()
		if len(got) != maxRequestTimes {
			t.Fatalf("%d times", len(got))
		}
		for i, tm := range got {
			if want := baseTime.Add(time.Duration(i + 5)); !tm.Equal(want) {
				t.Fatalf("times[%d] = %v, want %v", i, tm, want)
			}
		}
	})
}

func TestTruncateHandler(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 12, Events: counts(30, 0, 0), Span: 30 * time.Minute, RateLimitPerMinute: -1})
	tok := mustToken(t, s, TokenOptions{})
	full := do(t, s, http.MethodPost, faultPath, "Bearer "+tok, `{"limit":5}`).Body.Bytes()
	for _, abort := range []bool{false, true} {
		s.SetFaults(Faults{TruncateRatio: 1, TruncateAbort: abort})
		lengths := map[int]bool{}
		for i := 0; i < 50; i++ {
			rec := do(t, s, http.MethodPost, faultPath, "Bearer "+tok, `{"limit":5}`)
			b := rec.Body.Bytes()
			wantCL := len(b)
			if abort {
				wantCL = len(full)
			}
			if rec.Code != 200 || rec.Header().Get("Content-Length") != strconv.Itoa(wantCL) ||
				len(b) >= len(full) || !bytes.HasPrefix(full, b) {
				t.Fatalf("abort=%v: %d CL %s, %d of %d bytes", abort, rec.Code, rec.Header().Get("Content-Length"), len(b), len(full))
			}
			lengths[len(b)] = true
		}
		if len(lengths) < 40 {
			t.Errorf("abort=%v: cut points not random: %d distinct of 50", abort, len(lengths))
		}
	}
	// The response the request would otherwise get is the one truncated.
	rec := do(t, s, http.MethodPost, faultPath, "Bearer nope", `{}`)
	if rec.Code != 401 || !strings.HasPrefix(`{"Error":{"Message":"Unauthorized"}}`, rec.Body.String()) {
		t.Errorf("truncated 401: %d %q", rec.Code, rec.Body.String())
	}
	if st := s.Stats(); st.ItemsServed[SignInAttempts] != 5 || st.Faults[FaultTruncate] != 101 {
		t.Errorf("stats %+v", st)
	}
}

func TestResetHandler(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 12})
	tok := mustToken(t, s, TokenOptions{})
	s.SetFaults(Faults{ResetRatio: 1})
	func() {
		defer func() {
			if r := recover(); r != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", r)
			}
		}()
		do(t, s, http.MethodPost, faultPath, "Bearer "+tok, "{}")
	}()
	if st := s.Stats(); st.Faults[FaultReset] != 1 || st.Requests != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStall(t *testing.T) {
	t.Run("then answered", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 13, Events: counts(5, 5, 5)})
		tok := mustToken(t, s, TokenOptions{})
		want := do(t, s, http.MethodPost, faultPath, "Bearer "+tok, `{"limit":2}`).Body.String()
		s.SetFaults(Faults{StallRatio: 1, Stall: 30 * time.Millisecond})
		t0 := time.Now()
		rec := do(t, s, http.MethodPost, faultPath, "Bearer "+tok, `{"limit":2}`)
		if d := time.Since(t0); d < 30*time.Millisecond {
			t.Errorf("not stalled: %v", d)
		}
		if rec.Code != 200 || rec.Body.String() != want {
			t.Errorf("%d %s", rec.Code, rec.Body.String())
		}
		if st := s.Stats(); st.Faults[FaultStall] != 1 || st.Aborted != 0 || st.ByStatus[200] != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("context done", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 13})
		s.SetFaults(Faults{StallRatio: 1, Stall: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, faultPath, strings.NewReader("{}"))
		req.Header.Set("Authorization", "Bearer "+mustToken(t, s, TokenOptions{}))
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if st := s.Stats(); st.Faults[FaultStall] != 1 || st.Aborted != 1 || st.Requests != 0 || rec.Body.Len() != 0 {
			t.Errorf("stats %+v, body %q", st, rec.Body.String())
		}
	})
	t.Run("until Close", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 13})
		s.SetFaults(Faults{StallRatio: 1}) // Stall 0: until the client gives up
		done := make(chan struct{})
		go func() {
			defer close(done)
			do(t, s, http.MethodPost, faultPath, "Bearer "+mustToken(t, s, TokenOptions{}), "{}")
		}()
		waitFor(t, func() bool { return s.Stats().Faults[FaultStall] == 1 })
		select {
		case <-done:
			t.Fatal("stall ended by itself")
		default:
		}
		_ = s.Close()
		<-done
		if st := s.Stats(); st.Aborted != 1 || st.Requests != 0 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		w := startSim(t, Config{Seed: 13, Events: counts(5, 5, 5)})
		w.s.SetFaults(Faults{StallRatio: 1})
		w.client.Timeout = 100 * time.Millisecond
		if r := w.post(t, faultPath, "{}"); r.err == nil {
			t.Fatalf("stalled request answered: %d", r.status)
		}
		waitFor(t, func() bool { return w.s.Stats().Aborted == 1 }) // the server noticed
		w.s.SetFaults(Faults{})
		w.client.Timeout = 20 * time.Second
		if r := w.post(t, faultPath, "{}"); r.err != nil || r.status != 200 {
			t.Fatalf("after faults off: %v %d", r.err, r.status)
		}
	})
}

// waitFor polls cond (for state another goroutine changes) for up to 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFaultsValidate(t *testing.T) {
	bad := []Faults{
		{ServerErrorRatio: -0.1},
		{TruncateRatio: 1.1},
		{NonJSONRatio: math.NaN()},
		{ResetRatio: math.Inf(1)},
		{StallRatio: 0.5, RateLimitStormRatio: 0.6},
		{StallRatio: 0.1, Stall: -time.Second},
		{ServerErrorRatio: 0.1, Types: []string{"signinattempt"}},
	}
	s, _ := newSim(t, Config{Seed: 1})
	for _, f := range bad {
		if f.Validate() == nil {
			t.Errorf("%+v: valid", f)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: SetFaults did not panic", f)
				}
			}()
			s.SetFaults(f)
		}()
	}
	good := []Faults{
		{},
		{ServerErrorRatio: 1},
		{ServerErrorRatio: 0.1, TruncateRatio: 0.2, NonJSONRatio: 0.3, ResetRatio: 0.1, StallRatio: 0.2, RateLimitStormRatio: 0.1},
		{TruncateAbort: true, Types: []string{}},
		{StallRatio: 1, Types: []string{SignInAttempts, AuditEvents}},
	}
	for _, f := range good {
		if err := f.Validate(); err != nil {
			t.Errorf("%+v: %v", f, err)
		}
		s.SetFaults(f)
	}
}

// TestFaultsConcurrent changes faults and limits while requests are served
// (for -race).
func TestFaultsConcurrent(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 19, Events: counts(50, 50, 50), RateLimitPerMinute: -1, RateLimitPerHour: -1})
	tok := mustToken(t, s, TokenOptions{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			path := []string{"/api/v1/signinattempts", "/api/v2/itemusages", "/api/v2/auditevents", "/api/v2/auth/introspect"}[g]
			method := http.MethodPost
			if g == 3 {
				method = http.MethodGet
			}
			for i := 0; i < 300; i++ {
				rec := do(t, s, method, path, "Bearer "+tok, "")
				switch rec.Code {
				case 200, 429, 500, 502, 503:
				default:
					t.Errorf("%s: %d", path, rec.Code)
				}
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				s.SetFaults(Faults{ServerErrorRatio: 0.2, TruncateRatio: 0.2, NonJSONRatio: 0.2, RateLimitStormRatio: 0.2,
					StallRatio: 0.1, Stall: time.Microsecond, Types: []string{ItemUsages, AuditEvents}})
				s.SetRateLimits(1000, -1)
			} else {
				s.SetFaults(Faults{})
				s.SetRateLimits(-1, -1)
			}
			_ = s.Stats()
			_ = s.RequestTimes()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	done := make(chan struct{})
	go func() {
		// Wait for the request goroutines (all but the toggler), then stop it.
		for len(s.RequestTimes()) < 900 {
			time.Sleep(time.Millisecond)
		}
		close(done)
	}()
	<-done
	close(stop)
	wg.Wait()
	if n := len(s.RequestTimes()); n != 900 {
		t.Errorf("RequestTimes %d, want 900 (introspect not recorded)", n)
	}
}
