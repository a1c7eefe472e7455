package eventsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newTestClient starts h on an httptest server and returns a v2 client for it.
func newTestClient(t *testing.T, h http.HandlerFunc, mod ...func(*Config)) (*Client, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tok, raw := testToken(t)
	cfg := Config{BaseURL: srv.URL + "/", Token: tok, Version: "v2", HTTPClient: srv.Client(), UserAgent: "eventsapibeat-test/1.0"}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, raw
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	return e
}

func TestFetchSendsTheDocumentedRequest(t *testing.T) {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		version, eventType string
		req                Request
		wantPath, wantBody string
	}{
		{"v2", "itemusages", Request{Reset: ResetCursor{Limit: 1000, StartTime: &start}}, "/api/v2/itemusages", `{"limit":1000,"start_time":"2020-01-01T00:00:00Z"}`},
		{"v2", "auditevents", Request{Cursor: "cursor_0"}, "/api/v2/auditevents", `{"cursor":"cursor_0"}`},
		{"v1", "signinattempts", Request{}, "/api/v1/signinattempts", `{}`},
	} {
		t.Run(tc.version+" "+tc.eventType, func(t *testing.T) {
			var got *http.Request
			var gotBody []byte
			c, raw := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				got = r
				gotBody, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				_, _ = io.WriteString(w, `{"cursor":"next","has_more":false,"items":[]}`)
			}, func(c *Config) { c.Version = tc.version })
			page, err := c.Fetch(context.Background(), tc.eventType, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if page.Cursor != "next" || page.HasMore || page.Items == nil || len(page.Items) != 0 {
				t.Errorf("page = %+v", page)
			}
			if got.Method != http.MethodPost || got.URL.Path != tc.wantPath || got.URL.RawQuery != "" {
				t.Errorf("request %s %s", got.Method, got.URL)
			}
			for k, want := range map[string]string{
				"Authorization": "Bearer " + raw,
				"Content-Type":  "application/json",
				"User-Agent":    "eventsapibeat-test/1.0",
			} {
				if v := got.Header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if string(gotBody) != tc.wantBody {
				t.Errorf("body %s, want %s", gotBody, tc.wantBody)
			}
		})
	}
}

// TestFetchDecodesConformanceSamples serves the stored API responses and
// compares the page with an independent generic decode of the same file.
func TestFetchDecodesConformanceSamples(t *testing.T) {
	for _, name := range []string{
		"official-1password-dev-v2-itemusages-response.json",
		"official-1password-dev-v2-signinattempts-response.json",
		"official-1password-dev-v2-auditevents-response.json",
		"demisto-content-v2-auditevents_response_1.json",
		"demisto-content-v2-auditevents_response_2.json",
	} {
		t.Run(name, func(t *testing.T) {
			body := readSample(t, name)
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
			page, err := c.Fetch(context.Background(), "auditevents", Request{Cursor: "x"})
			if err != nil {
				t.Fatal(err)
			}
			assertPageMatches(t, page, body)
		})
	}
}

func assertPageMatches(t *testing.T, page *Page, body []byte) {
	t.Helper()
	var want struct {
		Cursor  string `json:"cursor"`
		HasMore bool   `json:"has_more"`
		Items   []any  `json:"items"`
	}
	if err := json.Unmarshal(body, &want); err != nil {
		t.Fatal(err)
	}
	if page.Cursor != want.Cursor || page.HasMore != want.HasMore || len(page.Items) != len(want.Items) {
		t.Fatalf("page cursor=%q has_more=%v items=%d; want %q %v %d",
			page.Cursor, page.HasMore, len(page.Items), want.Cursor, want.HasMore, len(want.Items))
	}
	for i, raw := range page.Items {
		var got any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("item %d is not JSON: %v", i, err)
		}
		if a, b := mustJSON(t, got), mustJSON(t, want.Items[i]); !bytes.Equal(a, b) {
			t.Errorf("item %d\n got %s\nwant %s", i, a, b)
		}
	}
}

// TestFetchElasticMockExchanges replays Elastic's stream mock: each request
// the client sends must equal the recorded request body, and each recorded
// response must decode.
func TestFetchElasticMockExchanges(t *testing.T) {
	var exchanges []struct {
		Path           string          `json:"path"`
		Method         string          `json:"method"`
		RequestBody    json.RawMessage `json:"request_body"`
		ResponseStatus int             `json:"response_status"`
		ResponseBody   json.RawMessage `json:"response_body"`
	}
	if err := json.Unmarshal(readSample(t, "elastic-integrations-1password-mock-api-exchanges.json"), &exchanges); err != nil {
		t.Fatal(err)
	}
	for i, ex := range exchanges {
		t.Run(fmt.Sprintf("%d %s", i, ex.Path), func(t *testing.T) {
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				got, _ := io.ReadAll(r.Body)
				if r.Method != ex.Method || r.URL.Path != ex.Path || !jsonEqual(got, ex.RequestBody) {
					t.Errorf("request %s %s %s; recorded %s %s %s", r.Method, r.URL.Path, got, ex.Method, ex.Path, ex.RequestBody)
				}
				w.WriteHeader(ex.ResponseStatus)
				_, _ = w.Write(ex.ResponseBody)
			}, func(c *Config) { c.Version = "v1" })

			var recorded struct {
				Cursor string `json:"cursor"`
				Limit  int    `json:"limit"`
			}
			_ = json.Unmarshal(ex.RequestBody, &recorded)
			req := Request{Cursor: recorded.Cursor, Reset: ResetCursor{Limit: recorded.Limit}}
			page, err := c.Fetch(context.Background(), strings.TrimPrefix(ex.Path, "/api/v1/"), req)
			if err != nil {
				t.Fatal(err)
			}
			assertPageMatches(t, page, ex.ResponseBody)
		})
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

func TestFetchResponseMapping(t *testing.T) {
	const date = "Mon, 02 Jan 2006 15:04:05 GMT"
	fixedNow := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	htmlBody := "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
	longMsg := strings.Repeat("x", 500) + "\n\x1b[31mred"
	big := `{"cursor":"c","has_more":false,"items":[` + strings.Repeat(`{"uuid":"AAAAAAAAAAAAAAAAAAAAAAAAAA"},`, 100) + `{}]}`

	type resp struct {
		status  int
		headers map[string]string
		body    string
	}
	tests := []struct {
		name        string
		resp        resp
		maxBody     int64
		kind        ErrorKind // 0: success
		message     string
		retryAfter  time.Duration
		wantItems   int
		wantHasMore bool
		sentinel    error
	}{
		// Errors with a status.
		{name: "400 observed body", resp: resp{400, nil, `{"Error":{"Message":"Bad Request"}}`}, kind: KindBadRequest, message: "Bad Request", sentinel: ErrBadRequest},
		{name: "401 observed body", resp: resp{401, nil, `{"Error":{"Message":"Unauthorized"}}`}, kind: KindUnauthorized, message: "Unauthorized", sentinel: ErrUnauthorized},
		{name: "401 reference 1.4.1 body", resp: resp{401, nil, `{"status":401,"message":"Token is not scoped for itemusages"}`}, kind: KindUnauthorized, message: "Token is not scoped for itemusages", sentinel: ErrUnauthorized},
		{name: "401 empty body", resp: resp{401, nil, ``}, kind: KindUnauthorized, message: "Unauthorized"},
		{name: "403", resp: resp{403, nil, `forbidden by proxy`}, kind: KindForbidden, message: "Forbidden", sentinel: ErrForbidden},
		{name: "404 html", resp: resp{404, map[string]string{"Content-Type": "text/html"}, `<html>404 page not found</html>`}, kind: KindNotFound, message: "Not Found", sentinel: ErrNotFound},
		{name: "408", resp: resp{408, nil, ``}, kind: KindTransient, message: "Request Timeout", sentinel: ErrTransient},
		{name: "300 redirect the client did not follow", resp: resp{300, nil, ``}, kind: KindBadRequest, message: "Multiple Choices"},
		{name: "418 other 4xx", resp: resp{418, nil, `{}`}, kind: KindBadRequest, message: "I'm a teapot"},
		{name: "429 without Retry-After", resp: resp{429, nil, ``}, kind: KindRateLimited, message: "Too Many Requests", sentinel: ErrRateLimited},
		{name: "429 Retry-After seconds", resp: resp{429, map[string]string{"Retry-After": "30"}, `{"Error":{"Message":"Too Many Requests"}}`}, kind: KindRateLimited, message: "Too Many Requests", retryAfter: 30 * time.Second},
		{name: "429 Retry-After HTTP-date vs Date header", resp: resp{429, map[string]string{"Retry-After": "Mon, 02 Jan 2006 15:05:05 GMT", "Date": date}, ``}, kind: KindRateLimited, retryAfter: time.Minute},
		{name: "429 Retry-After HTTP-date vs clock", resp: resp{429, map[string]string{"Retry-After": "Mon, 02 Jan 2006 15:04:35 GMT", "Date": "-"}, ``}, kind: KindRateLimited, retryAfter: 30 * time.Second},
		{name: "429 Retry-After in the past", resp: resp{429, map[string]string{"Retry-After": "Mon, 02 Jan 2006 15:00:00 GMT", "Date": date}, ``}, kind: KindRateLimited, retryAfter: 0},
		{name: "429 Retry-After garbage", resp: resp{429, map[string]string{"Retry-After": "soon"}, ``}, kind: KindRateLimited, retryAfter: 0},
		{name: "429 Retry-After capped", resp: resp{429, map[string]string{"Retry-After": "999999999999"}, ``}, kind: KindRateLimited, retryAfter: time.Hour},
		{name: "500", resp: resp{500, nil, `{"Error":{"Message":"Internal Server Error"}}`}, kind: KindTransient, message: "Internal Server Error", sentinel: ErrTransient},
		{name: "502 html", resp: resp{502, map[string]string{"Content-Type": "text/html"}, htmlBody}, kind: KindTransient, message: "Bad Gateway"},
		{name: "503 Retry-After", resp: resp{503, map[string]string{"Retry-After": "5"}, ``}, kind: KindTransient, message: "Service Unavailable", retryAfter: 5 * time.Second},
		{name: "599 unknown status", resp: resp{599, nil, ``}, kind: KindTransient, message: "HTTP 599"},
		{name: "long message with control characters is capped", resp: resp{400, nil, `{"message":` + jsonString(longMsg) + `}`}, kind: KindBadRequest, message: strings.Repeat("x", 200) + "…"},

		// 200 bodies the worker must not trust.
		{name: "200 truncated JSON", resp: resp{200, nil, `{"cursor":"c","has_more":true,"items":[{"uuid":"56YE2TYN`}, kind: KindTransient, message: "truncated"},
		{name: "200 html", resp: resp{200, map[string]string{"Content-Type": "text/html"}, htmlBody}, kind: KindTransient, message: "not valid JSON"},
		{name: "200 empty body", resp: resp{200, nil, ``}, kind: KindTransient, message: "response body is empty"},
		{name: "200 missing cursor", resp: resp{200, nil, `{"has_more":false,"items":[]}`}, kind: KindTransient, message: "response has no cursor"},
		{name: "200 null cursor", resp: resp{200, nil, `{"cursor":null,"items":[]}`}, kind: KindTransient, message: "response has no cursor"},
		{name: "200 empty cursor", resp: resp{200, nil, `{"cursor":"","items":[]}`}, kind: KindTransient, message: "empty cursor"},
		{name: "200 cursor is a number", resp: resp{200, nil, `{"cursor":12345678901234567890,"items":[]}`}, kind: KindTransient, message: `response field "cursor" has the wrong type (number)`},
		{name: "200 items is an object", resp: resp{200, nil, `{"cursor":"c","items":{}}`}, kind: KindTransient, message: `"items" has the wrong type`},
		{name: "200 JSON array", resp: resp{200, nil, `[]`}, kind: KindTransient, message: "not a JSON object"},
		{name: "200 JSON null", resp: resp{200, nil, `null`}, kind: KindTransient, message: "response has no cursor"},
		{name: "200 trailing garbage", resp: resp{200, nil, `{"cursor":"c"} x`}, kind: KindTransient, message: "not valid JSON"},
		{name: "200 over MaxBodyBytes with Content-Length", resp: resp{200, map[string]string{"Content-Length": strconv.Itoa(len(big))}, big}, maxBody: 1024, kind: KindTransient, message: "exceeds the 1024 byte limit"},
		{name: "200 over MaxBodyBytes chunked", resp: resp{200, map[string]string{"Content-Length": "-"}, big}, maxBody: 1024, kind: KindTransient, message: "exceeds the 1024 byte limit"},

		// 200 bodies that are fine.
		{name: "200 items null", resp: resp{200, nil, `{"cursor":"c","has_more":false,"items":null}`}},
		{name: "200 items missing", resp: resp{200, nil, `{"cursor":"c"}`}},
		{name: "200 unknown envelope keys", resp: resp{200, nil, `{"items":[{"a":1}],"cursor":"c","has_more":true,"next":{"x":[1]},"Error":null}`}, wantItems: 1, wantHasMore: true},
		{name: "200 exactly MaxBodyBytes", resp: resp{200, nil, big}, maxBody: int64(len(big)), wantItems: 101},
		{name: "200 non-object items are left to the mapper", resp: resp{200, nil, `{"cursor":"c","items":[null,1,"x",{}]}`}, wantItems: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, raw := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.resp.headers {
					if v == "-" {
						w.Header()[k] = nil // suppress the server's automatic header
						continue
					}
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.resp.status)
				if tc.resp.headers["Content-Length"] == "-" {
					// Force chunked encoding: no Content-Length to check up front.
					for i := 0; i < len(tc.resp.body); i += 100 {
						_, _ = io.WriteString(w, tc.resp.body[i:min(i+100, len(tc.resp.body))])
						w.(http.Flusher).Flush()
					}
					return
				}
				_, _ = io.WriteString(w, tc.resp.body)
			}, func(c *Config) { c.MaxBodyBytes = tc.maxBody })
			c.now = func() time.Time { return fixedNow }

			page, err := c.Fetch(context.Background(), "itemusages", Request{Cursor: "c0"})
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if page.Cursor != "c" || page.HasMore != tc.wantHasMore || page.Items == nil || len(page.Items) != tc.wantItems {
					t.Errorf("page = cursor %q has_more %v items %d (nil %v)", page.Cursor, page.HasMore, len(page.Items), page.Items == nil)
				}
				return
			}
			if page != nil {
				t.Errorf("page %+v returned with an error", page)
			}
			e := asError(t, err)
			if e.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v (%v)", e.Kind, tc.kind, err)
			}
			if e.Status != tc.resp.status {
				t.Errorf("Status = %d, want %d", e.Status, tc.resp.status)
			}
			if e.Op != "POST /api/v2/itemusages" {
				t.Errorf("Op = %q", e.Op)
			}
			if tc.message != "" && !strings.Contains(e.Message, tc.message) {
				t.Errorf("Message = %q, want it to contain %q", e.Message, tc.message)
			}
			if e.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.retryAfter)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("errors.Is(err, %v) = false", tc.sentinel)
			}
			wantRetry := tc.kind == KindTransient || tc.kind == KindRateLimited
			if Retryable(err) != wantRetry {
				t.Errorf("Retryable = %v, want %v", !wantRetry, wantRetry)
			}
			s := err.Error()
			assertOneLine(t, "error", s)
			assertNoSecret(t, "error", s, raw)
			if !strings.Contains(s, "POST /api/v2/itemusages") || !strings.Contains(s, strconv.Itoa(tc.resp.status)) {
				t.Errorf("error %q does not name the operation and status", s)
			}
			if len(tc.resp.body) >= 20 && strings.Contains(s, tc.resp.body) {
				t.Errorf("error contains the whole body: %q", s)
			}
			if strings.Contains(s, "<html") || strings.Contains(s, "56YE2TYN") {
				t.Errorf("error quotes the body: %q", s)
			}
		})
	}
}

func TestFetchErrorBodySamples(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		kind   ErrorKind
		msg    string
	}{
		{"error-body-events-api-splunk-issue37-400.json", 400, KindBadRequest, "Bad Request"},
		{"error-body-sumologic-docs-pr1870-401.json", 401, KindUnauthorized, "Unauthorized"},
	} {
		body := readSample(t, tc.file)
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = w.Write(body)
		})
		_, err := c.Fetch(context.Background(), "itemusages", Request{})
		if e := asError(t, err); e.Kind != tc.kind || e.Message != tc.msg || e.Status != tc.status {
			t.Errorf("%s: %+v", tc.file, e)
		}
	}
}

func TestErrorMessageNeverEchoesTheToken(t *testing.T) {
	var raw string
	c, raw := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		// A broken proxy echoing the header, whole and in pieces.
		auth := r.Header.Get("Authorization")
		parts := strings.Split(strings.TrimPrefix(auth, "Bearer "), ".")
		w.WriteHeader(401)
		_ = json.NewEncoder(w).Encode(map[string]any{"Error": map[string]any{
			"Message": "bad header " + auth + " sig " + parts[2] + " claims " + parts[1][:40],
		}})
	})
	_, err := c.Fetch(context.Background(), "itemusages", Request{})
	e := asError(t, err)
	assertNoSecret(t, "Message", e.Message, raw)
	assertNoSecret(t, "Error()", err.Error(), raw)
	if !strings.Contains(e.Message, "REDACTED") {
		t.Errorf("Message = %q", e.Message)
	}
}

func TestFetchNetworkFailures(t *testing.T) {
	t.Run("truncated transfer", func(t *testing.T) {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = io.WriteString(w, `{"cursor":"c","items":[`)
		})
		_, err := c.Fetch(context.Background(), "itemusages", Request{})
		e := asError(t, err)
		if e.Kind != KindTransient || e.Status != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("got %#v (%v)", e, err)
		}
	})
	t.Run("connection closed without a response", func(t *testing.T) {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.Fetch(context.Background(), "itemusages", Request{})
		if e := asError(t, err); e.Kind != KindTransient || e.Status != 0 || !Retryable(err) {
			t.Errorf("got %#v (%v)", e, err)
		}
		assertOneLine(t, "error", err.Error())
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		tok, _ := testToken(t)
		c, err := NewClient(Config{BaseURL: url, Token: tok, Version: "v2", HTTPClient: &http.Client{}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Fetch(context.Background(), "itemusages", Request{})
		e := asError(t, err)
		var opErr *net.OpError
		if e.Kind != KindTransient || !errors.As(err, &opErr) || !errors.Is(err, ErrTransient) {
			t.Errorf("got %#v (%v)", e, err)
		}
		if strings.Contains(err.Error(), `Post "`) {
			t.Errorf("error repeats the url.Error prefix: %v", err)
		}
	})
	t.Run("client timeout is transient", func(t *testing.T) {
		release := make(chan struct{})
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, func(c *Config) { c.HTTPClient = &http.Client{Timeout: time.Millisecond} })
		t.Cleanup(func() { close(release) })
		_, err := c.Fetch(context.Background(), "itemusages", Request{})
		if e := asError(t, err); e.Kind != KindTransient {
			t.Errorf("got %#v (%v)", e, err)
		}
	})
}

func TestFetchContext(t *testing.T) {
	// blockingClient's handler signals started, then blocks until the client
	// hangs up.
	blockingClient := func(t *testing.T, writeBody bool) (*Client, <-chan struct{}) {
		started, stop := make(chan struct{}), make(chan struct{})
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			// Consuming the body lets the server watch the connection, so
			// r.Context() ends when the client hangs up.
			_, _ = io.Copy(io.Discard, r.Body)
			if writeBody {
				_, _ = io.WriteString(w, `{"cursor":"c","items":[`)
				w.(http.Flusher).Flush()
			}
			close(started)
			select {
			case <-r.Context().Done():
			case <-stop: // a regression fails instead of hanging srv.Close
			}
		})
		t.Cleanup(func() { close(stop) }) // runs before srv.Close
		return c, started
	}
	check := func(t *testing.T, err error, want error, kind ErrorKind) {
		t.Helper()
		e := asError(t, err)
		if e.Kind != kind || !errors.Is(err, want) {
			t.Errorf("got %#v (%v), want kind %v wrapping %v", e, err, kind, want)
		}
		if kind == KindCanceled && (Retryable(err) || errors.Is(err, ErrTransient) || !errors.Is(err, ErrCanceled)) {
			t.Errorf("canceled error is treated as a failure: %v", err)
		}
	}

	t.Run("canceled before the call", func(t *testing.T) {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.Fetch(ctx, "itemusages", Request{})
		check(t, err, context.Canceled, KindCanceled)
	})
	t.Run("canceled while waiting for headers", func(t *testing.T) {
		c, started := blockingClient(t, false)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := c.Fetch(ctx, "itemusages", Request{})
		check(t, err, context.Canceled, KindCanceled)
	})
	t.Run("canceled while reading the body", func(t *testing.T) {
		c, started := blockingClient(t, true)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := c.Fetch(ctx, "itemusages", Request{})
		check(t, err, context.Canceled, KindCanceled)
	})
	t.Run("canceled introspect", func(t *testing.T) {
		c, started := blockingClient(t, false)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		_, err := c.Introspect(ctx)
		check(t, err, context.Canceled, KindCanceled)
	})
	t.Run("deadline is a timeout, so transient", func(t *testing.T) {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
		ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
		defer cancel()
		_, err := c.Fetch(ctx, "itemusages", Request{})
		check(t, err, context.DeadlineExceeded, KindTransient)
	})
}

func TestFetchRefusesBadRequestsLocally(t *testing.T) {
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("request sent: %s", r.URL) })
	for _, tc := range []struct {
		eventType string
		req       Request
		msg       string
	}{
		{"itemusages", Request{Cursor: "c", Reset: ResetCursor{Limit: 100}}, "both a cursor and reset fields"},
		{"itemusages", Request{Reset: ResetCursor{Limit: 5000}}, "limit must be from 1 to 1000"},
		{"", Request{}, "event type"},
		{"../auth/introspect", Request{}, "event type"},
		{"itemusages?x=1", Request{}, "event type"},
	} {
		_, err := c.Fetch(context.Background(), tc.eventType, tc.req)
		e := asError(t, err)
		if e.Kind != KindBadRequest || e.Status != 0 || !strings.Contains(e.Message, tc.msg) || Retryable(err) {
			t.Errorf("%q %+v: %v", tc.eventType, tc.req, err)
		}
	}
}

func TestErrorsIsAndRetryable(t *testing.T) {
	all := map[ErrorKind]error{
		KindTransient: ErrTransient, KindRateLimited: ErrRateLimited, KindUnauthorized: ErrUnauthorized,
		KindForbidden: ErrForbidden, KindNotFound: ErrNotFound, KindBadRequest: ErrBadRequest, KindCanceled: ErrCanceled,
	}
	for kind := range all {
		err := fmt.Errorf("worker: %w", &Error{Kind: kind, Op: "POST /api/v2/itemusages", Status: 500, Err: io.EOF})
		for other, sentinel := range all {
			if got := errors.Is(err, sentinel); got != (other == kind) {
				t.Errorf("errors.Is(%v, %v) = %v", kind, other, got)
			}
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("%v: the cause is not unwrapped", kind)
		}
		if got, want := Retryable(err), kind == KindTransient || kind == KindRateLimited; got != want {
			t.Errorf("Retryable(%v) = %v", kind, got)
		}
		if KindOf(err) != kind {
			t.Errorf("KindOf = %v, want %v", KindOf(err), kind)
		}
		if strings.HasPrefix(kind.String(), "ErrorKind(") {
			t.Errorf("kind %d has no name", kind)
		}
	}
	for _, err := range []error{nil, io.EOF, context.Canceled, errors.New("x")} {
		if Retryable(err) || KindOf(err) != 0 {
			t.Errorf("Retryable/KindOf(%v) for a foreign error", err)
		}
	}
	if errors.Is(&Error{Kind: KindTransient}, &Error{Kind: KindTransient}) {
		t.Error("two distinct *Error values compare equal; only sentinels should match")
	}
	e := &Error{Kind: KindRateLimited, Op: "POST /api/v2/auditevents", Status: 429, Message: "Too Many Requests", RetryAfter: 30 * time.Second}
	if got, want := e.Error(), "eventsapi: POST /api/v2/auditevents: HTTP 429 Too Many Requests (rate limited); retry after 30s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &Error{Kind: KindUnauthorized, Op: "GET /api/v2/auth/introspect", Status: 401, Message: "token expired\nline2"}
	if got, want := e.Error(), "eventsapi: GET /api/v2/auth/introspect: HTTP 401 Unauthorized (unauthorized): token expired line2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestIntrospect(t *testing.T) {
	issued := func(s string) time.Time { return *tp(s) }
	type want struct {
		uuid, account string
		issued        time.Time
		features      []string
	}
	tests := []struct {
		name, version, wantPath string
		body                    func(t *testing.T) []byte
		want                    *want
		errMsg                  string
	}{
		{name: "v2 official sample", version: "v2", wantPath: "/api/v2/auth/introspect",
			body: func(t *testing.T) []byte { return readSample(t, "official-1password-dev-v2-introspect-response.json") },
			want: &want{"<string>", "<string>", issued("2020-06-11T16:32:50-03:00"), []string{"auditevents", "itemusages", "signinattempts"}}},
		{name: "v2 pre-1.4.1 sample without account_uuid", version: "v2", wantPath: "/api/v2/auth/introspect",
			body: func(t *testing.T) []byte { return readSample(t, "demisto-content-v2-introspection_response.json") },
			want: &want{"1234", "", issued("2024-12-16T16:32:50-03:00"), []string{"auditevents", "itemusages", "signinattempts"}}},
		// No v1 sample is stored; this is the PascalCase shape 1Password's
		// Go clients decode (json:"UUID", "IssuedAt", "Features").
		{name: "v1 PascalCase", version: "v1", wantPath: "/api/auth/introspect",
			body: func(*testing.T) []byte {
				return []byte(`{"UUID":"OJQGU46KAPROEJLCK674RHSAY5","IssuedAt":"2021-08-11T14:28:03Z","Features":["itemusages","signinattempts"]}`)
			},
			want: &want{"OJQGU46KAPROEJLCK674RHSAY5", "", issued("2021-08-11T14:28:03Z"), []string{"itemusages", "signinattempts"}}},
		{name: "v1 ignores snake_case keys", version: "v1", wantPath: "/api/auth/introspect",
			body: func(*testing.T) []byte { return []byte(`{"uuid":"x","issued_at":"2021-08-11T14:28:03Z"}`) },
			want: &want{}},
		{name: "bad issued_at", version: "v2", wantPath: "/api/v2/auth/introspect",
			body:   func(*testing.T) []byte { return []byte(`{"uuid":"x","issued_at":"yesterday"}`) },
			errMsg: `"issued_at" is not an RFC 3339 time`},
		{name: "features wrong type", version: "v2", wantPath: "/api/v2/auth/introspect",
			body:   func(*testing.T) []byte { return []byte(`{"features":"itemusages"}`) },
			errMsg: `"features" has the wrong type`},
		{name: "not JSON", version: "v1", wantPath: "/api/auth/introspect",
			body:   func(*testing.T) []byte { return []byte(`<html>`) },
			errMsg: "not valid JSON"},
		{name: "JSON null", version: "v2", wantPath: "/api/v2/auth/introspect",
			body:   func(*testing.T) []byte { return []byte(`null`) },
			errMsg: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body(t)
			var got *http.Request
			c, raw := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				got = r
				_, _ = w.Write(body)
			}, func(c *Config) { c.Version = tc.version })
			in, err := c.Introspect(context.Background())
			if got == nil {
				t.Fatal("no request")
			}
			if got.Method != http.MethodGet || got.URL.Path != tc.wantPath || got.Header.Get("Authorization") != "Bearer "+raw ||
				got.Header.Get("Content-Type") != "" || got.ContentLength != 0 {
				t.Errorf("request %s %s content-type %q length %d", got.Method, got.URL.Path, got.Header.Get("Content-Type"), got.ContentLength)
			}
			if tc.errMsg != "" {
				e := asError(t, err)
				if e.Kind != KindTransient || e.Op != "GET "+tc.wantPath || !strings.Contains(e.Message, tc.errMsg) {
					t.Errorf("got %#v", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tc.want
			if in.UUID != w.uuid || in.AccountUUID != w.account || !in.IssuedAt.Equal(w.issued) || fmt.Sprint(in.Features) != fmt.Sprint(w.features) {
				t.Errorf("got %+v, want %+v", in, w)
			}
		})
	}

	t.Run("401", func(t *testing.T) {
		c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"Error":{"Message":"Unauthorized"}}`)
		})
		_, err := c.Introspect(context.Background())
		if e := asError(t, err); e.Kind != KindUnauthorized || e.Op != "GET /api/v2/auth/introspect" || !errors.Is(err, ErrUnauthorized) {
			t.Errorf("got %#v", e)
		}
	})
}

func TestNewClient(t *testing.T) {
	tok, _ := testToken(t)
	deprecated, err := ParseToken(makeJWT(t, es256Header, withClaim("aud", DeprecatedAudience)))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	tests := []struct {
		name     string
		cfg      Config
		wantBase string
		wantErr  string
	}{
		{name: "explicit base with trailing slash", cfg: Config{BaseURL: "https://events.ent.1password.com/", Token: tok, Version: "v2", HTTPClient: hc}, wantBase: "https://events.ent.1password.com"},
		{name: "base from token aud", cfg: Config{Token: tok, Version: "v1", HTTPClient: hc}, wantBase: "https://events.1password.com"},
		{name: "base with path prefix", cfg: Config{BaseURL: "http://127.0.0.1:8080/sim/", Token: tok, Version: "v2", HTTPClient: hc}, wantBase: "http://127.0.0.1:8080/sim"},
		{name: "explicit base overrides deprecated aud", cfg: Config{BaseURL: "https://events.1password.ca", Token: deprecated, Version: "v2", HTTPClient: hc}, wantBase: "https://events.1password.ca"},
		{name: "deprecated aud and no base", cfg: Config{Token: deprecated, Version: "v2", HTTPClient: hc}, wantErr: "issue a new token"},
		{name: "no token", cfg: Config{BaseURL: "https://events.1password.com", Version: "v2", HTTPClient: hc}, wantErr: "token is required"},
		{name: "no http client", cfg: Config{Token: tok, Version: "v2"}, wantErr: "HTTPClient is required"},
		{name: "bad version", cfg: Config{Token: tok, Version: "v3", HTTPClient: hc}, wantErr: "version must be v1 or v2"},
		{name: "empty version", cfg: Config{Token: tok, HTTPClient: hc}, wantErr: "version must be v1 or v2"},
		{name: "negative max body", cfg: Config{Token: tok, Version: "v2", HTTPClient: hc, MaxBodyBytes: -1}, wantErr: "MaxBodyBytes"},
		{name: "ftp scheme", cfg: Config{BaseURL: "ftp://events.1password.com", Token: tok, Version: "v2", HTTPClient: hc}, wantErr: "https://"},
		{name: "no scheme", cfg: Config{BaseURL: "events.1password.com", Token: tok, Version: "v2", HTTPClient: hc}, wantErr: "https://"},
		{name: "user info", cfg: Config{BaseURL: "https://user:pass@events.1password.com", Token: tok, Version: "v2", HTTPClient: hc}, wantErr: "user info"},
		{name: "query", cfg: Config{BaseURL: "https://events.1password.com/?x=1", Token: tok, Version: "v2", HTTPClient: hc}, wantErr: "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewClient error = %v, want %q", err, tc.wantErr)
				}
				assertOneLine(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tc.wantBase || c.Version() != tc.cfg.Version || c.maxBody != DefaultMaxBodyBytes || c.userAgent != DefaultUserAgent {
				t.Errorf("client base %q version %q maxBody %d ua %q", c.BaseURL(), c.Version(), c.maxBody, c.userAgent)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		retryAfter, date string
		want             time.Duration
	}{
		{"", "", 0},
		{"0", "", 0},
		{"-3", "", 0},
		{"120", "", 2 * time.Minute},
		{" 7 ", "", 7 * time.Second},
		{"1.5", "", 0},
		{"3601", "", time.Hour},
		{"Wed, 01 Jan 2025 00:00:10 GMT", "", 10 * time.Second},
		{"Wednesday, 01-Jan-25 00:00:10 GMT", "", 10 * time.Second}, // RFC 850, still valid
		{"Wed, 01 Jan 2025 00:00:10 GMT", "Wed, 01 Jan 2025 00:00:05 GMT", 5 * time.Second},
		{"Wed, 01 Jan 2025 00:00:10 GMT", "not a date", 10 * time.Second},
		{"Thu, 02 Jan 2025 00:00:00 GMT", "", time.Hour},
	} {
		h := http.Header{}
		if tc.retryAfter != "" {
			h.Set("Retry-After", tc.retryAfter)
		}
		if tc.date != "" {
			h.Set("Date", tc.date)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q Date %q: got %v, want %v", tc.retryAfter, tc.date, got, tc.want)
		}
	}
}
