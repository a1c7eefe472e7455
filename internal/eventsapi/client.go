package eventsapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultMaxBodyBytes caps a 200 body. A page holds at most 1000 items,
	// far below this; more means something is wrong, and reading it all
	// would only exhaust memory.
	DefaultMaxBodyBytes int64 = 64 << 20

	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "eventsapibeat"

	// maxErrorBodyBytes caps what is read of an error body: only a short
	// message is wanted from it.
	maxErrorBodyBytes = 64 << 10
	// maxDrainBytes is read and discarded before closing a body so the
	// connection can be reused; bigger leftovers just close it.
	maxDrainBytes = 64 << 10
	// maxRetryAfter caps a Retry-After: the longest documented rate-limit
	// window is one hour, and a bigger value is more likely a bug.
	maxRetryAfter = time.Hour
)

// Config configures a Client.
type Config struct {
	// BaseURL is e.g. https://events.1password.com; a trailing slash is
	// tolerated. Empty means Token.BaseURL(). http:// is allowed for local
	// simulators.
	BaseURL string
	// Token is the bearer token when Tokens is nil.
	Token Token
	// Tokens, when set, supplies the token of each request (and Token is
	// ignored), so the token can be rotated while the client is in use.
	Tokens TokenSource
	// Version is "v1" or "v2": the API version of the POST endpoints and of
	// the introspect endpoint.
	Version string
	// HTTPClient is required: the beat builds it from libbeat's transport
	// settings (TLS, proxy, timeout).
	HTTPClient *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// MaxBodyBytes caps a 200 body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Client calls the Events API. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[/prefix], no trailing slash
	version   string
	tokens    TokenSource
	http      *http.Client
	userAgent string
	maxBody   int64
	now       func() time.Time // for Retry-After HTTP-dates; replaced in tests
}

func configError(format string, args ...any) error {
	return errors.New("eventsapi: config: " + fmt.Sprintf(format, args...))
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	tokens := cfg.Tokens
	if tokens == nil {
		if cfg.Token.IsZero() {
			return nil, configError("token is required")
		}
		tokens = StaticToken(cfg.Token)
	}
	if cfg.HTTPClient == nil {
		return nil, configError("HTTPClient is required")
	}
	if cfg.Version != "v1" && cfg.Version != "v2" {
		return nil, configError("version must be v1 or v2, got %q", oneLine(cfg.Version, 20))
	}
	if cfg.MaxBodyBytes < 0 {
		return nil, configError("MaxBodyBytes must not be negative")
	}
	base := strings.TrimSpace(cfg.BaseURL)
	if base == "" {
		tok, err := tokens.Token()
		if err != nil {
			return nil, err
		}
		if base, err = tok.BaseURL(); err != nil {
			return nil, err
		}
	}
	base, err := checkBaseURL(base)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:      base,
		version:   cfg.Version,
		tokens:    tokens,
		http:      cfg.HTTPClient,
		userAgent: cfg.UserAgent,
		maxBody:   cfg.MaxBodyBytes,
		now:       time.Now,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	return c, nil
}

// checkBaseURL rejects what would make requests go somewhere unexpected or
// put credentials into error messages (user info, query, fragment).
func checkBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", configError("base URL is not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", configError("base URL must start with https://")
	}
	if u.Host == "" {
		return "", configError("base URL has no host")
	}
	if u.User != nil {
		return "", configError("base URL must not contain user info")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", configError("base URL must not have a query or fragment")
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// BaseURL is the normalised base URL requests go to.
func (c *Client) BaseURL() string { return c.base }

// Version is the configured API version, "v1" or "v2".
func (c *Client) Version() string { return c.version }

// Fetch POSTs req to {base}/api/{version}/{eventType} and returns the page.
// Every error is an *Error; see ErrorKind for what to do about it.
func (c *Client) Fetch(ctx context.Context, eventType string, req Request) (*Page, error) {
	path := "/api/" + c.version + "/" + eventType
	op := http.MethodPost + " " + path
	if !validEventType(eventType) {
		return nil, &Error{Kind: KindBadRequest, Op: "POST /api/" + c.version + "/?", Message: "event type must be a non-empty lowercase name like itemusages"}
	}
	body, err := req.body()
	if err != nil {
		return nil, &Error{Kind: KindBadRequest, Op: op, Message: "not sent: " + err.Error()}
	}
	status, data, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return nil, err
	}
	page, derr := decodePage(data)
	if derr != nil {
		derr.Op, derr.Status = op, status
		return nil, derr
	}
	return page, nil
}

func validEventType(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// do sends one request and returns the status and body of a 2xx response.
// Every error is an *Error with Op set.
//
// A 401 to a token that the token source has replaced since (a rotated
// token file) comes back as KindTokenChanged rather than KindUnauthorized:
// it was no failure of the API, only a stale token, and the caller repeats
// the request (through its budget and metrics) with the new token.
func (c *Client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	op := method + " " + path
	tok, err := c.tokens.Token()
	if err != nil {
		return 0, nil, &Error{Kind: KindUnauthorized, Op: op, Message: "no usable token", Err: err}
	}
	status, data, err := c.send(ctx, method, path, body, tok)
	if KindOf(err) != KindUnauthorized {
		return status, data, err
	}
	if changed, _ := c.tokens.Refresh(); changed {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			apiErr.Kind = KindTokenChanged
		}
	}
	return status, data, err
}

// send sends one request with tok.
func (c *Client) send(ctx context.Context, method, path string, body []byte, tok Token) (int, []byte, error) {
	op := method + " " + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, &Error{Kind: KindBadRequest, Op: op, Message: "building request failed"}
	}
	hreq.Header.Set("Authorization", tok.Bearer())
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.http.Do(hreq)
	if err != nil {
		return 0, nil, c.networkError(ctx, op, 0, err)
	}
	defer func() {
		_, _ = io.CopyN(io.Discard, resp.Body, maxDrainBytes)
		_ = resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The status decides; a failure to read the error body only loses
		// the message.
		data, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBodyBytes))
		if errors.Is(rerr, context.Canceled) {
			// Cut off by the caller's stop, as the recorder sees it too.
			return 0, nil, c.networkError(ctx, op, resp.StatusCode, rerr)
		}
		return 0, nil, &Error{
			Kind:       kindForStatus(resp.StatusCode),
			Op:         op,
			Status:     resp.StatusCode,
			Message:    errorMessage(resp.StatusCode, data, tok),
			RetryAfter: retryAfter(resp.Header, c.now()),
		}
	}

	if resp.ContentLength > c.maxBody {
		return 0, nil, &Error{Kind: KindTransient, Op: op, Status: resp.StatusCode,
			Message: fmt.Sprintf("response body of %d bytes exceeds the %d byte limit", resp.ContentLength, c.maxBody)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return 0, nil, c.networkError(ctx, op, resp.StatusCode, err)
	}
	if int64(len(data)) > c.maxBody {
		return 0, nil, &Error{Kind: KindTransient, Op: op, Status: resp.StatusCode,
			Message: fmt.Sprintf("response body exceeds the %d byte limit", c.maxBody)}
	}
	return resp.StatusCode, data, nil
}

// networkError classifies a failure to get or read a response. A canceled
// context is KindCanceled, not transient, so a stopping worker stays quiet;
// an expired deadline is a timeout and therefore transient. Once a response
// has arrived (status set), only a read that the cancellation itself cut
// off is KindCanceled: a body the server cut off just before a stop is the
// server's failure, and a recording of the request holds it as one.
func (c *Client) networkError(ctx context.Context, op string, status int, err error) *Error {
	if cerr := ctx.Err(); cerr != nil && (status == 0 || errors.Is(err, context.Canceled)) {
		kind := KindTransient
		if errors.Is(cerr, context.Canceled) {
			kind = KindCanceled
		}
		return &Error{Kind: kind, Op: op, Status: status, Err: cerr}
	}
	// Keep the inner error: *url.Error repeats the method and URL that Op
	// already names.
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Err != nil {
		err = uerr.Err
	}
	msg := ""
	if status != 0 {
		msg = "reading response body failed"
	}
	return &Error{Kind: KindTransient, Op: op, Status: status, Message: msg, Err: err}
}

// errorMessage extracts the message of an error body. Both documented
// shapes are read: {"Error":{"Message":"..."}} (observed from the real
// server and in spec 1.0-1.2) and {"status":..,"message":".."} (reference
// 1.4.1). Anything else (HTML from a proxy, empty) gives the status text,
// so the body itself never reaches a log line. The token is scrubbed in case
// something echoes the Authorization header.
func errorMessage(status int, body []byte, tok Token) string {
	msg := messageFromBody(body)
	if msg != "" && tok.raw != nil {
		msg = redactToken(msg, *tok.raw)
	}
	msg = oneLine(msg, maxMessageLen)
	if msg == "" {
		if msg = http.StatusText(status); msg == "" {
			msg = "HTTP " + strconv.Itoa(status)
		}
	}
	return msg
}

func messageFromBody(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	str := func(v json.RawMessage) string {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return ""
		}
		return s
	}
	for _, k := range []string{"Error", "error"} {
		v, ok := m[k]
		if !ok {
			continue
		}
		if s := str(v); s != "" {
			return s
		}
		var inner map[string]json.RawMessage
		if json.Unmarshal(v, &inner) == nil {
			for _, ik := range []string{"Message", "message"} {
				if s := str(inner[ik]); s != "" {
					return s
				}
			}
		}
	}
	for _, k := range []string{"message", "Message"} {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return ""
}

// redactToken removes the token and each of its longer segments (an echo
// may be partial) from s.
func redactToken(s, raw string) string {
	s = strings.ReplaceAll(s, raw, redacted)
	for _, part := range strings.Split(raw, ".") {
		if len(part) >= 16 {
			s = strings.ReplaceAll(s, part, redacted)
		}
	}
	return s
}

// retryAfter reads Retry-After as delay-seconds or an HTTP-date (RFC 9110
// §10.2.3). A date is measured from the response's Date header when there
// is one, so clock skew between us and the server does not matter.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			now = date
		}
		d = at.Sub(now)
	} else {
		return 0
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// envelope is the body of every POST endpoint, v1 and v2. Unknown keys are
// ignored so new API fields do not break the beat.
type envelope struct {
	Cursor  *string           `json:"cursor"`
	HasMore bool              `json:"has_more"`
	Items   []json.RawMessage `json:"items"`
}

// decodePage decodes a 2xx body. Failures are KindTransient: the server
// answered 200, so a truncated or garbled body is most likely a one-off that
// a retry of the same (idempotent) request fixes. Messages describe the
// problem without quoting the body.
func decodePage(body []byte) (*Page, *Error) {
	fail := func(msg string) (*Page, *Error) {
		return nil, &Error{Kind: KindTransient, Status: http.StatusOK, Message: msg}
	}
	if page, ok := decodePageFast(body); ok {
		return page, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail("response body is empty")
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fail(describeJSONError(err))
	}
	if env.Cursor == nil {
		return fail("response has no cursor")
	}
	if *env.Cursor == "" {
		// An empty cursor would make the next Request a reset, silently
		// restarting the stream from the API's default start time.
		return fail("response has an empty cursor")
	}
	items := env.Items
	if items == nil {
		items = []json.RawMessage{}
	}
	return &Page{Cursor: *env.Cursor, HasMore: env.HasMore, Items: items}, nil
}

// describeJSONError says what is wrong with a body without echoing any of it
// (json's own messages can quote characters and numbers from the input).
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || (errors.As(err, &syn) && strings.Contains(syn.Error(), "unexpected end")):
		return "response body is truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("response body is not valid JSON (syntax error at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "response body is not a JSON object"
		}
		return fmt.Sprintf("response field %q has the wrong type (%s)", typ.Field, jsonKind(typ.Value))
	default:
		return "response body could not be decoded"
	}
}

// jsonKind reduces UnmarshalTypeError.Value ("number 12", "string", ...) to
// the JSON kind, dropping any literal.
func jsonKind(v string) string {
	kind, _, _ := strings.Cut(v, " ")
	switch kind {
	case "string", "number", "bool", "array", "object", "null":
		return kind
	}
	return "unexpected value"
}

// Introspection describes the token as the server sees it.
type Introspection struct {
	UUID        string    // the Events Reporting integration
	IssuedAt    time.Time // zero if absent
	Features    []string
	AccountUUID string // v2 since API 1.4.1; empty for v1
}

// Introspect calls GET /api/v2/auth/introspect (v2, snake_case keys) or the
// deprecated GET /api/auth/introspect (v1, PascalCase keys; there is no
// /api/v1/auth/introspect).
func (c *Client) Introspect(ctx context.Context) (*Introspection, error) {
	path := "/api/v2/auth/introspect"
	if c.version == "v1" {
		path = "/api/auth/introspect"
	}
	op := http.MethodGet + " " + path
	status, data, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	in, derr := decodeIntrospection(c.version, data)
	if derr != nil {
		derr.Op, derr.Status = op, status
		return nil, derr
	}
	return in, nil
}

func decodeIntrospection(version string, body []byte) (*Introspection, *Error) {
	fail := func(msg string) (*Introspection, *Error) {
		return nil, &Error{Kind: KindTransient, Status: http.StatusOK, Message: msg}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fail("response body is empty")
	}
	// Exact keys (a map, not struct tags) because encoding/json matches
	// struct fields case-insensitively, and v1 and v2 differ only in case
	// for "uuid".
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return fail(describeJSONError(err))
	}
	if m == nil {
		return fail("response body is not a JSON object")
	}
	keys := [4]string{"uuid", "issued_at", "features", "account_uuid"}
	if version == "v1" {
		keys = [4]string{"UUID", "IssuedAt", "Features", ""}
	}
	var in Introspection
	var issued string
	for i, dst := range []any{&in.UUID, &issued, &in.Features, &in.AccountUUID} {
		v, ok := m[keys[i]]
		if keys[i] == "" || !ok || isNull(v) {
			continue
		}
		if json.Unmarshal(v, dst) != nil {
			return fail(fmt.Sprintf("introspection field %q has the wrong type", keys[i]))
		}
	}
	if issued != "" {
		t, err := time.Parse(time.RFC3339, issued)
		if err != nil {
			return fail(fmt.Sprintf("introspection field %q is not an RFC 3339 time", keys[1]))
		}
		in.IssuedAt = t
	}
	return &in, nil
}
