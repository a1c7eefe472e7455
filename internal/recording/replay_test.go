package recording

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
)

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// recorded describes one exchange to write into a test recording.
type recorded struct {
	method, url, reqBody string
	status               int
	respBody             string
	err                  string // transport error instead of a response
	bodyErr              string
}

// writeRecording writes exchanges as stream's recording under dir.
func writeRecording(t *testing.T, dir, stream string, exs []recorded) {
	t.Helper()
	sdir := filepath.Join(dir, stream)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i, r := range exs {
		ex := &Exchange{Version: Version, Stream: stream, Seq: i + 1, Time: time.Unix(1700000000, 0).UTC(),
			Request: Request{Method: r.method, URL: r.url, Body: newBody([]byte(r.reqBody))}}
		if r.err != "" {
			ex.Error = r.err
		} else {
			ex.Response = &Response{Status: r.status, Body: newBody([]byte(r.respBody))}
			ex.Response.ReadError = r.bodyErr
		}
		data, err := Encode(ex)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := http.NewRequest(r.method, r.url, nil)
		if err := os.WriteFile(filepath.Join(sdir, FileName(ex.Seq, u.URL.Path)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	v2    = "https://events.1password.com/api/v2/signinattempts"
	intro = "https://events.1password.com/api/v2/auth/introspect"
)

func page(cursor string, hasMore bool, uuids ...string) string {
	items := []map[string]string{}
	for _, u := range uuids {
		items = append(items, map[string]string{"uuid": u})
	}
	b, _ := json.Marshal(map[string]any{"cursor": cursor, "has_more": hasMore, "items": items})
	return string(b)
}

// TestReplayMatching plays requests against small recordings and checks
// each answer: what matches, in which order, and what happens when the
// recording has nothing left.
func TestReplayMatching(t *testing.T) {
	type step struct {
		method, url, body string
		wantStatus        int
		wantBody          string // substring of the body; "" with wantErr
		wantErr           string // substring of the RoundTrip or body read error
	}
	cases := []struct {
		name  string
		rec   []recorded
		steps []step
	}{
		{
			name: "a reset matches whatever its start time; cursors chain",
			rec: []recorded{
				{method: "POST", url: v2, reqBody: `{"limit":1000,"start_time":"2026-01-01T00:00:00Z"}`, status: 200, respBody: page("c1", true, "a")},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("c2", false, "b")},
			},
			steps: []step{
				{method: "POST", url: v2, body: `{"limit":1000,"start_time":"2026-03-04T05:06:07Z"}`, wantStatus: 200, wantBody: `"a"`},
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 200, wantBody: `"b"`},
				{method: "POST", url: v2, body: `{"cursor":"c2"}`, wantStatus: 200, wantBody: `"items":[]`},
				{method: "POST", url: v2, body: `{"cursor":"c2"}`, wantStatus: 200, wantBody: `"cursor":"c2"`},
			},
		},
		{
			name: "the same request is answered in recorded order: a retry, then idle polls, then new events",
			rec: []recorded{
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 503, respBody: `{"Error":{"Message":"try later"}}`},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("c1", false)},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("c2", false, "new")},
			},
			steps: []step{
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 503, wantBody: "try later"},
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 200, wantBody: `"items":[]`},
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 200, wantBody: `"new"`},
			},
		},
		{
			name: "host and proxy prefix are ignored, the API version is not",
			rec: []recorded{
				{method: "POST", url: "http://127.0.0.1:9/prefix/api/v1/signinattempts", reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("v1c", false, "v1item")},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 400, respBody: `{"Error":{"Message":"bad cursor"}}`},
			},
			steps: []step{
				{method: "POST", url: "https://replay.invalid/api/v2/signinattempts", body: `{"cursor":"c1"}`, wantStatus: 400},
				{method: "POST", url: "https://replay.invalid/api/v1/signinattempts", body: `{"cursor":"c1"}`, wantStatus: 200, wantBody: "v1item"},
			},
		},
		{
			name: "introspect is answered again once its answers are used",
			rec: []recorded{
				{method: "GET", url: intro, status: 200, respBody: `{"uuid":"first"}`},
				{method: "GET", url: intro, status: 200, respBody: `{"uuid":"second"}`},
			},
			steps: []step{
				{method: "GET", url: intro, wantStatus: 200, wantBody: "first"},
				{method: "GET", url: intro, wantStatus: 200, wantBody: "second"},
				{method: "GET", url: intro, wantStatus: 200, wantBody: "second"},
			},
		},
		{
			name: "an unknown cursor idles, an unrecorded reset and introspect fail clearly",
			rec: []recorded{
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("c2", false, "a")},
			},
			steps: []step{
				{method: "POST", url: v2, body: `{"cursor":"elsewhere"}`, wantStatus: 200, wantBody: `"cursor":"elsewhere"`},
				{method: "POST", url: v2, body: `{"limit":10}`, wantErr: "continued from a state file"},
				{method: "GET", url: intro, wantErr: "has no answer for GET /api/v2/auth/introspect"},
			},
		},
		{
			name: "recorded failures are replayed: no response, a broken body",
			rec: []recorded{
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, err: "read tcp: connection reset by peer"},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: `{"cursor":"c2","ite`, bodyErr: "unexpected EOF"},
				{method: "POST", url: v2, reqBody: `{"cursor":"c1"}`, status: 200, respBody: page("c2", false, "ok")},
			},
			steps: []step{
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantErr: "connection reset by peer"},
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 200, wantErr: "unexpected EOF"},
				{method: "POST", url: v2, body: `{"cursor":"c1"}`, wantStatus: 200, wantBody: `"ok"`},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRecording(t, dir, "signin_attempts", tc.rec)
			replay, err := LoadStream(dir, "signin_attempts", nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps {
				var body io.Reader
				if s.body != "" {
					body = strings.NewReader(s.body)
				}
				req, _ := http.NewRequest(s.method, s.url, body)
				resp, err := replay.RoundTrip(req)
				if err != nil {
					if s.wantErr == "" || s.wantStatus != 0 || !strings.Contains(err.Error(), s.wantErr) {
						t.Fatalf("step %d: error %v, want status %d / error %q", i, err, s.wantStatus, s.wantErr)
					}
					continue
				}
				data, readErr := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != s.wantStatus {
					t.Fatalf("step %d: status %d, want %d", i, resp.StatusCode, s.wantStatus)
				}
				if s.wantErr != "" {
					if readErr == nil || !strings.Contains(readErr.Error(), s.wantErr) {
						t.Fatalf("step %d: body read error %v, want %q", i, readErr, s.wantErr)
					}
					continue
				}
				if readErr != nil || !strings.Contains(string(data), s.wantBody) {
					t.Fatalf("step %d: body %s (%v), want it to contain %s", i, data, readErr, s.wantBody)
				}
			}
		})
	}
}

// TestReplayCancelled: a cancelled request is not answered.
func TestReplayCancelled(t *testing.T) {
	dir := t.TempDir()
	writeRecording(t, dir, "signin_attempts", []recorded{{method: "GET", url: intro, status: 200, respBody: `{}`}})
	replay, err := LoadStream(dir, "signin_attempts", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, intro, nil)
	if _, err := replay.RoundTrip(req); err != context.Canceled {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestLoadStreamErrors: every unusable recording gives one line naming the
// directory or the file.
func TestLoadStreamErrors(t *testing.T) {
	good := func(t *testing.T, dir string) {
		writeRecording(t, dir, "signin_attempts", []recorded{{method: "GET", url: intro, status: 200, respBody: `{}`}})
	}
	write := func(name, content string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			good(t, dir)
			if err := os.WriteFile(filepath.Join(dir, "signin_attempts", name), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid := func(mod func(m map[string]any)) string {
		m := map[string]any{"version": 1, "stream": "signin_attempts", "seq": 2, "time": "2026-01-01T00:00:00Z",
			"request": map[string]any{"method": "GET", "url": intro}, "response": map[string]any{"status": 200}}
		mod(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{"no directory for the stream", func(*testing.T, string) {}, "holds no recording of stream signin_attempts"},
		{"empty stream directory", func(t *testing.T, dir string) { os.Mkdir(filepath.Join(dir, "signin_attempts"), 0o700) }, "holds no exchanges"},
		{"stream path is a file", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "signin_attempts"), nil, 0o600) }, "is not a directory"},
		{"foreign file", write("notes.txt", "hi"), "notes.txt: not a recording file"},
		{"duplicate number", write("0000001-introspect.json", valid(func(m map[string]any) { m["seq"] = 1 })), "number 1 is also the number of 0000001-introspect.json"},
		{"empty file", write("000002-introspect.json", ""), "000002-introspect.json: is empty"},
		{"not JSON", write("000002-introspect.json", "<html>"), "000002-introspect.json: is not a valid recording: JSON syntax error at byte 1"},
		{"truncated", write("000002-introspect.json", `{"version": 1, "stream": "si`), "000002-introspect.json: is not a valid recording: truncated JSON"},
		{"trailing data", write("000002-introspect.json", valid(func(map[string]any) {})+"{}"), "has data after the JSON object"},
		{"no version", write("000002-introspect.json", valid(func(m map[string]any) { delete(m, "version") })), "has no version"},
		{"newer version", write("000002-introspect.json", valid(func(m map[string]any) { m["version"] = 2 })), "has format version 2; this eventsapibeat reads version 1"},
		{"wrong type", write("000002-introspect.json", valid(func(m map[string]any) { m["seq"] = "two" })), "field seq has the wrong type"},
		{"other stream", write("000002-introspect.json", valid(func(m map[string]any) { m["stream"] = "item_usages" })), "belongs to stream item_usages, not signin_attempts"},
		{"seq differs from name", write("000002-introspect.json", valid(func(m map[string]any) { m["seq"] = 7 })), "holds exchange 7, not 2"},
		{"bad method", write("000002-introspect.json", valid(func(m map[string]any) { m["request"] = map[string]any{"method": "DELETE\n", "url": intro} })), `request.method "DELETE " is not GET or POST`},
		{"no URL", write("000002-introspect.json", valid(func(m map[string]any) { m["request"] = map[string]any{"method": "GET"} })), "request.url is not a URL with a path"},
		{"no outcome", write("000002-introspect.json", valid(func(m map[string]any) { delete(m, "response") })), "has neither a response nor an error"},
		{"both outcomes", write("000002-introspect.json", valid(func(m map[string]any) { m["error"] = "x" })), "has both a response and an error"},
		{"bad status", write("000002-introspect.json", valid(func(m map[string]any) { m["response"] = map[string]any{"status": 42} })), "response.status 42 is not an HTTP status"},
		{"two bodies", write("000002-introspect.json", valid(func(m map[string]any) {
			m["response"] = map[string]any{"status": 200, "body": map[string]any{}, "body_text": "x"}
		})), "response has more than one of body, body_text and body_base64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			_, err := LoadStream(dir, "signin_attempts", nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name the directory or file", err)
			}
		})
	}
}

// TestBodyForms: each body is stored in the most readable form that keeps
// it byte for byte.
func TestBodyForms(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{nil, "none"},
		{[]byte(`{"a":1}`), "json"},
		{[]byte("<html>Bad Gateway</html>"), "text"},
		{[]byte{0xff, 0x00, 0x7b}, "base64"},
	} {
		b := newBody(tc.in)
		got := "none"
		switch {
		case b.JSON != nil:
			got = "json"
		case b.Text != "":
			got = "text"
		case b.Base64 != nil:
			got = "base64"
		}
		if got != tc.want || !bytes.Equal(b.Bytes(), tc.in) {
			t.Errorf("%q stored as %s (%q), want %s", tc.in, got, b.Bytes(), tc.want)
		}
		ex := &Exchange{Version: 1, Stream: "s", Seq: 1, Request: Request{Method: "GET", URL: intro}, Response: &Response{Status: 200, Body: b}}
		data, err := Encode(ex)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("x", data)
		if err != nil {
			t.Fatal(err)
		}
		if got := back.Response.Bytes(); tc.want != "json" && !bytes.Equal(got, tc.in) {
			t.Errorf("%q came back as %q", tc.in, got)
		}
	}
}

// TestPlaceholderToken: the replay token is accepted by the client, grants
// the features asked for, and names the reserved replay.invalid host, so a
// request made with it could never reach a real server.
func TestPlaceholderToken(t *testing.T) {
	tok, err := eventsapi.ParseToken(PlaceholderToken("itemusages"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := tok.BaseURL()
	if err != nil || base != "https://replay.invalid" || !tok.HasFeature("itemusages") || tok.HasFeature("signinattempts") {
		t.Fatalf("token %v, base URL %q (%v)", tok, base, err)
	}
}
