package recording

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/logp/logptest"

	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// newSimulator starts a simulated account and returns its URL and a token
// for every event type.
func newSimulator(t *testing.T) (string, string) {
	t.Helper()
	sim, err := simulator.New(simulator.Config{Seed: 3, Events: map[string]int{"signinattempts": 250, "itemusages": 10, "auditevents": 10}, Span: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	token, err := sim.IssueToken(simulator.TokenOptions{Features: []string{"signinattempts", "itemusages", "auditevents"}})
	if err != nil {
		t.Fatal(err)
	}
	return base, token
}

func newClient(t *testing.T, base, token string, rt http.RoundTripper) *eventsapi.Client {
	t.Helper()
	tok, err := eventsapi.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	c, err := eventsapi.NewClient(eventsapi.Config{BaseURL: base, Token: tok, Version: "v2", HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertNoSecret fails if any file under dir holds the token or one of its
// segments.
func assertNoSecret(t *testing.T, dir, token string) {
	t.Helper()
	secrets := []string{token}
	for _, part := range strings.Split(token, ".") {
		if len(part) >= minSecretPart {
			secrets = append(secrets, part)
		}
	}
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if strings.Contains(string(data), s) {
				t.Errorf("%s holds the token (or a segment of it)", path)
			}
		}
		if strings.Contains(strings.ToLower(string(data)), "authorization") {
			t.Errorf("%s mentions an Authorization header", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no files under %s", dir)
	}
}

// TestRecordThenReplay records a stream's traffic with the real client
// against the simulator, then replays it with a placeholder token and no
// simulator: the same pages come back in the same order, and once the
// recording runs out a page request gets an empty page with its cursor.
func TestRecordThenReplay(t *testing.T) {
	base, token := newSimulator(t)
	dir := t.TempDir()
	rec, err := NewRecorder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rec.Transport("signin_attempts", http.DefaultTransport)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	live := newClient(t, base, token, rt)
	wantIntro, err := live.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-48 * time.Hour).UTC()
	var pages []*eventsapi.Page
	req := eventsapi.Request{Reset: eventsapi.ResetCursor{Limit: 100, StartTime: &start}}
	for {
		p, err := live.Fetch(ctx, "signinattempts", req)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, p)
		req = eventsapi.Request{Cursor: p.Cursor}
		if !p.HasMore {
			break
		}
	}
	if len(pages) != 3 {
		t.Fatalf("%d pages, want 3 (250 events, 100 per page)", len(pages))
	}
	assertNoSecret(t, dir, token)
	files, _ := filepath.Glob(filepath.Join(dir, "signin_attempts", "*"))
	if len(files) != 4 {
		t.Fatalf("recorded files %v, want 4 (introspect and 3 pages)", files)
	}
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, info.Mode().Perm())
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "signin_attempts")); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("stream directory mode %v (%v), want 0700", info.Mode().Perm(), err)
	}

	logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
	replay, err := LoadStream(dir, "signin_attempts", logger)
	if err != nil {
		t.Fatal(err)
	}
	if replay.Exchanges() != 4 {
		t.Fatalf("replay holds %d exchanges, want 4", replay.Exchanges())
	}
	// Another host, another start time, no real token: still the same run.
	offline := newClient(t, "https://elsewhere.invalid", PlaceholderToken("signinattempts"), replay)
	gotIntro, err := offline.Introspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotIntro, wantIntro) {
		t.Errorf("replayed introspection %+v, want %+v", gotIntro, wantIntro)
	}
	other := start.Add(time.Hour)
	req = eventsapi.Request{Reset: eventsapi.ResetCursor{Limit: 100, StartTime: &other}}
	for i, want := range pages {
		got, err := offline.Fetch(ctx, "signinattempts", req)
		if err != nil {
			t.Fatalf("replayed page %d: %v", i, err)
		}
		if got.Cursor != want.Cursor || got.HasMore != want.HasMore || len(got.Items) != len(want.Items) {
			t.Fatalf("replayed page %d: cursor %q has_more %v %d items, want %q %v %d", i, got.Cursor, got.HasMore, len(got.Items), want.Cursor, want.HasMore, len(want.Items))
		}
		for j := range want.Items {
			if !jsonEqual(t, got.Items[j], want.Items[j]) {
				t.Fatalf("replayed page %d item %d differs", i, j)
			}
		}
		req = eventsapi.Request{Cursor: got.Cursor}
	}
	// The recording has run out: the stream idles on its last cursor.
	for range 2 {
		got, err := offline.Fetch(ctx, "signinattempts", req)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cursor != req.Cursor || got.HasMore || len(got.Items) != 0 {
			t.Fatalf("after the recording: %+v, want an empty page with cursor %q", got, req.Cursor)
		}
	}
	if n := logs.FilterMessageSnippet("has no more answers").Len(); n != 1 {
		t.Errorf("%d \"no more answers\" log lines, want 1", n)
	}
}

// TestRecordScrubsEchoedToken: a server that echoes the token into its
// body, headers and an error leaves no trace of it in the recording, and
// the client still gets the response as sent.
func TestRecordScrubsEchoedToken(t *testing.T) {
	const token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdC0xMjMifQ.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo", auth)
		w.Header().Set("Set-Cookie", "session="+token)
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"Error":{"Message":"bad token `+strings.TrimPrefix(auth, "Bearer ")+` part `+strings.Split(token, ".")[2]+`"},"got":`+string(body)+`}`)
	}))
	defer srv.Close()

	dir := t.TempDir()
	rec, err := NewRecorder(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := rec.Transport("item_usages", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"cursor":"c-` + token + `"}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v2/itemusages?t="+token, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Proxy-Authorization", "Basic cHJveHl1c2VyOnByb3h5cGFzcw==")
	req.Header.Set("Cookie", "a=b")
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(got), token) {
		t.Fatalf("the caller got a changed body: %s", got)
	}
	assertNoSecret(t, dir, token)
	files, _ := filepath.Glob(filepath.Join(dir, "item_usages", "*.json"))
	if len(files) != 1 {
		t.Fatalf("files %v, want one", files)
	}
	data, _ := os.ReadFile(files[0])
	for _, unwanted := range []string{"cHJveHl1c2VyOnByb3h5cGFzcw", "Set-Cookie", "Cookie"} {
		if strings.Contains(string(data), unwanted) {
			t.Errorf("recording holds %q:\n%s", unwanted, data)
		}
	}
	ex, err := Parse(files[0], data)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Response.Status != http.StatusUnauthorized || ex.Response.JSON == nil || !strings.Contains(string(ex.Response.JSON), redacted) {
		t.Errorf("recorded response %+v, want the 401 JSON body with the token redacted", ex.Response)
	}
	if ex.Request.JSON == nil || !strings.Contains(ex.Request.URL, "t="+redacted) {
		t.Errorf("recorded request %+v, want the JSON body and the URL with the token redacted", ex.Request)
	}
}

// TestRecorderContinuesNumbering: a restart with the same directory appends
// to the recording instead of overwriting it.
func TestRecorderContinuesNumbering(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"uuid":"x"}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	for run := range 2 {
		rec, err := NewRecorder(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := rec.Transport("audit_events", nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			resp, err := (&http.Client{Transport: rt}).Get(srv.URL + "/api/v2/auth/introspect")
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			resp.Body.Close()
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "audit_events"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"000001-introspect.json", "000002-introspect.json", "000003-introspect.json", "000004-introspect.json"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("files %v, want %v (no temporary files left)", names, want)
	}
}

// TestRecordFailuresAndErrors: a request that gets no response is recorded
// as an error; a recording that cannot be written is logged once and never
// fails the request.
func TestRecordFailuresAndErrors(t *testing.T) {
	dir := t.TempDir()
	logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
	rec, err := NewRecorder(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	failing := roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errors.New("connection refused") })
	rt, err := rec.Transport("signin_attempts", failing)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "https://events.invalid/api/v2/signinattempts", strings.NewReader(`{"cursor":"abc"}`))
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("the transport error was not returned")
	}
	replay, err := LoadStream(dir, "signin_attempts", nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, "https://x.invalid/api/v2/signinattempts", strings.NewReader(`{"cursor":"abc"}`))
	if _, err := replay.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("replayed error = %v, want the recorded connection refused", err)
	}
	// A cancelled request (the beat stops) is not recorded.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "https://events.invalid/api/v2/auth/introspect", nil)
	rt.RoundTrip(req)
	if files, _ := filepath.Glob(filepath.Join(dir, "signin_attempts", "*.json")); len(files) != 1 {
		t.Fatalf("files %v, want only the failed request", files)
	}

	// Make writing fail: the stream directory becomes a file.
	ok := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), Request: r}, nil
	})
	rt2, err := rec.Transport("item_usages", ok)
	if err != nil {
		t.Fatal(err)
	}
	sdir := filepath.Join(dir, "item_usages")
	if err := os.Remove(sdir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sdir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		req, _ = http.NewRequest(http.MethodGet, "https://events.invalid/api/v2/auth/introspect", nil)
		resp, err := rt2.RoundTrip(req)
		if err != nil {
			t.Fatalf("a recording failure failed the request: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != `{"ok":true}` {
			t.Fatalf("body %q", body)
		}
	}
	if n := logs.FilterMessageSnippet("recording: cannot write").Len(); n != 1 {
		t.Fatalf("%d write-failure log lines, want 1", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cancelingBody returns its data, then cancels the request's context (a
// stop) and returns err.
type cancelingBody struct {
	data   *strings.Reader
	cancel func()
	err    error
}

func (b *cancelingBody) Read(p []byte) (int, error) {
	if b.data.Len() > 0 {
		return b.data.Read(p)
	}
	if b.cancel != nil {
		b.cancel()
	}
	return 0, b.err
}

func (b *cancelingBody) Close() error { return nil }

// TestStopRacesRecordWhatTheClientCounts: when the beat stops in the middle
// of an exchange, the recording holds the exchange exactly when the client
// counts it as the API's answer (success or failure) rather than as cut off
// by the stop, and its replay has the same outcome. Otherwise a replay goes
// through a failure the recorded run never counted (TestRecordThenReplay in
// beater failed so under load).
func TestStopRacesRecordWhatTheClientCounts(t *testing.T) {
	token := PlaceholderToken("signinattempts")
	page := `{"cursor":"c2","has_more":false,"items":[]}`
	cases := []struct {
		name string
		// answer is the API's side; stop cancels the request's context.
		answer func(r *http.Request, stop func()) (*http.Response, error)
		// stopAfter stops once the recording transport has returned, before
		// the client has looked at the answer.
		stopAfter bool
		// deadline gives the request an expired deadline (a timeout).
		deadline bool
		// wantFailed is the client's verdict on a recorded exchange.
		wantRecorded, wantFailed bool
	}{
		{
			name: "5xx, then the stop",
			answer: func(r *http.Request, _ func()) (*http.Response, error) {
				return &http.Response{StatusCode: 503, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("down")), Request: r}, nil
			},
			stopAfter: true, wantRecorded: true, wantFailed: true,
		},
		{
			name: "body cut off by the server, then the stop",
			answer: func(r *http.Request, _ func()) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &cancelingBody{data: strings.NewReader(`{"cursor":"c2","ha`), err: io.ErrUnexpectedEOF}, Request: r}, nil
			},
			stopAfter: true, wantRecorded: true, wantFailed: true,
		},
		{
			name: "body cut off by the server while the stop comes",
			answer: func(r *http.Request, stop func()) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &cancelingBody{data: strings.NewReader(`{"cursor":"c2","ha`), cancel: stop, err: io.ErrUnexpectedEOF}, Request: r}, nil
			},
			wantRecorded: true, wantFailed: true,
		},
		{
			name: "not JSON, then the stop",
			answer: func(r *http.Request, _ func()) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("<html>proxy</html>")), Request: r}, nil
			},
			stopAfter: true, wantRecorded: true, wantFailed: true,
		},
		{
			name: "a page, then the stop",
			answer: func(r *http.Request, _ func()) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(page)), Request: r}, nil
			},
			stopAfter: true, wantRecorded: true, wantFailed: false,
		},
		{
			name: "page body cut off by the stop",
			answer: func(r *http.Request, stop func()) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: &cancelingBody{data: strings.NewReader(`{"cursor":"c2","ha`), cancel: stop, err: context.Canceled}, Request: r}, nil
			},
			wantRecorded: false,
		},
		{
			name: "error body cut off by the stop",
			answer: func(r *http.Request, stop func()) (*http.Response, error) {
				return &http.Response{StatusCode: 503, Header: http.Header{}, Body: &cancelingBody{data: strings.NewReader(`{"Error":`), cancel: stop, err: context.Canceled}, Request: r}, nil
			},
			wantRecorded: false,
		},
		{
			name: "request cut off by the stop",
			answer: func(r *http.Request, stop func()) (*http.Response, error) {
				stop()
				return nil, context.Canceled
			},
			wantRecorded: false,
		},
		{
			name: "timeout",
			answer: func(r *http.Request, _ func()) (*http.Response, error) {
				return nil, r.Context().Err()
			},
			deadline: true, wantRecorded: true, wantFailed: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec, err := NewRecorder(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			defer stop()
			if tc.deadline {
				var cancel func()
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(-time.Second))
				defer cancel()
			}
			api := roundTripFunc(func(r *http.Request) (*http.Response, error) { return tc.answer(r, stop) })
			rt, err := rec.Transport("signin_attempts", api)
			if err != nil {
				t.Fatal(err)
			}
			client := newClient(t, "https://events.invalid", token, roundTripFunc(func(r *http.Request) (*http.Response, error) {
				resp, err := rt.RoundTrip(r)
				if tc.stopAfter {
					stop()
				}
				return resp, err
			}))
			_, err = client.Fetch(ctx, "signinattempts", eventsapi.Request{Cursor: "c1"})
			counted := !errors.Is(err, eventsapi.ErrCanceled)
			files, _ := filepath.Glob(filepath.Join(dir, "signin_attempts", "*.json"))
			if recorded := len(files) == 1; recorded != tc.wantRecorded || counted != tc.wantRecorded {
				t.Fatalf("recorded %v, client counted it %v (err %v); want both %v", recorded, counted, err, tc.wantRecorded)
			}
			if !tc.wantRecorded {
				return
			}
			if (err != nil) != tc.wantFailed {
				t.Fatalf("recorded run: err = %v, want failed %v", err, tc.wantFailed)
			}
			replay, err := LoadStream(dir, "signin_attempts", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = newClient(t, "https://events.invalid", token, replay).Fetch(context.Background(), "signinattempts", eventsapi.Request{Cursor: "c1"})
			if (err != nil) != tc.wantFailed || errors.Is(err, eventsapi.ErrCanceled) {
				t.Fatalf("replay: err = %v, want failed %v like the recorded run", err, tc.wantFailed)
			}
		})
	}
}
