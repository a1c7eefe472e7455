package recording

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the format version this package writes and reads.
const Version = 1

// maxFileBytes caps a recording file read back: a page is at most 1000
// items, far below this.
const maxFileBytes = 256 << 20

// Exchange is one request and its outcome: a response, or the error of a
// request that got none.
type Exchange struct {
	Version    int       `json:"version"`
	Stream     string    `json:"stream"`
	Seq        int       `json:"seq"`
	Time       time.Time `json:"time"`
	DurationMS int64     `json:"duration_ms"`
	Request    Request   `json:"request"`
	Response   *Response `json:"response,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// Request is the recorded request, without credentials.
type Request struct {
	Method string      `json:"method"`
	URL    string      `json:"url"`
	Header http.Header `json:"header,omitempty"`
	Body
}

// Response is the recorded response.
type Response struct {
	Status int         `json:"status"`
	Header http.Header `json:"header,omitempty"`
	Body
}

// Body holds a body in the most readable form that keeps it intact; at most
// one of JSON, Text and Base64 is set (none: the body was empty).
type Body struct {
	JSON   json.RawMessage `json:"body,omitempty"`
	Text   string          `json:"body_text,omitempty"`
	Base64 []byte          `json:"body_base64,omitempty"`
	// ReadError is set when reading the body failed after these bytes.
	ReadError string `json:"body_error,omitempty"`
}

// newBody stores data in the most readable form.
func newBody(data []byte) Body {
	switch {
	case len(data) == 0:
		return Body{}
	case json.Valid(data):
		return Body{JSON: json.RawMessage(bytes.Clone(data))}
	case utf8.Valid(data):
		return Body{Text: string(data)}
	default:
		return Body{Base64: bytes.Clone(data)}
	}
}

// Bytes returns the body's content.
func (b Body) Bytes() []byte {
	switch {
	case b.JSON != nil:
		return b.JSON
	case b.Text != "":
		return []byte(b.Text)
	default:
		return b.Base64
	}
}

func (b Body) check(where string) error {
	n := 0
	for _, set := range []bool{b.JSON != nil, b.Text != "", b.Base64 != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%s has more than one of body, body_text and body_base64", where)
	}
	return nil
}

// fileName is NNNNNN-<endpoint>.json.
var fileName = regexp.MustCompile(`^([0-9]{6,9})-([a-z0-9_-]{1,64})\.json$`)

// FileName is the name of the file of exchange seq to endpoint path p.
func FileName(seq int, p string) string {
	return fmt.Sprintf("%06d-%s.json", seq, endpointLabel(p))
}

// endpointLabel is the last segment of a URL path, reduced to the
// characters a file name may hold ("signinattempts", "introspect").
func endpointLabel(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(p) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
		if b.Len() == 64 {
			break
		}
	}
	if b.Len() == 0 {
		return "request"
	}
	return b.String()
}

// seqOfName returns the sequence number in a recording file name, or false
// when name is not one.
func seqOfName(name string) (int, bool) {
	m := fileName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// Encode writes ex as an indented JSON document. HTML characters are not
// escaped, so cursors stay readable.
func Encode(ex *Exchange) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(ex); err != nil {
		return nil, fmt.Errorf("encoding exchange %d: %w", ex.Seq, err)
	}
	return buf.Bytes(), nil
}

// Parse decodes and checks one recording file. name (the file's path) only
// labels errors, which are one line: "recording file NAME: problem".
func Parse(name string, data []byte) (*Exchange, error) {
	ex, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("recording file %s: %s", name, oneLine(err.Error()))
	}
	return ex, nil
}

func parse(data []byte) (*Exchange, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("is empty (not an eventsapibeat recording)")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var ex Exchange
	if err := dec.Decode(&ex); err != nil {
		return nil, fmt.Errorf("is not a valid recording: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("has data after the JSON object")
	}
	switch {
	case ex.Version == 0:
		return nil, errors.New("has no version (not an eventsapibeat recording)")
	case ex.Version != Version:
		return nil, fmt.Errorf("has format version %d; this eventsapibeat reads version %d", ex.Version, Version)
	case ex.Stream == "":
		return nil, errors.New("has no stream")
	case ex.Seq < 1:
		return nil, errors.New("has no seq (a positive number)")
	case ex.Request.Method != http.MethodGet && ex.Request.Method != http.MethodPost:
		return nil, fmt.Errorf("request.method %q is not GET or POST", clip(ex.Request.Method))
	}
	u, err := url.Parse(ex.Request.URL)
	if err != nil || u.Path == "" {
		return nil, errors.New("request.url is not a URL with a path")
	}
	if err := ex.Request.Body.check("request"); err != nil {
		return nil, err
	}
	if ex.Request.ReadError != "" {
		return nil, errors.New("request has a body_error; only a response can")
	}
	switch {
	case ex.Response == nil && ex.Error == "":
		return nil, errors.New("has neither a response nor an error")
	case ex.Response != nil && ex.Error != "":
		return nil, errors.New("has both a response and an error")
	case ex.Response != nil:
		if ex.Response.Status < 100 || ex.Response.Status > 599 {
			return nil, fmt.Errorf("response.status %d is not an HTTP status", ex.Response.Status)
		}
		if err := ex.Response.Body.check("response"); err != nil {
			return nil, err
		}
	}
	return &ex, nil
}

// describeJSONError says what is wrong without quoting the input.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "truncated JSON"
	case errors.As(err, &syn):
		return fmt.Sprintf("JSON syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "not a JSON object"
		}
		return fmt.Sprintf("field %s has the wrong type", clip(typ.Field))
	default:
		return clip(err.Error())
	}
}

// clip keeps a value from a file short and on one line for an error.
func clip(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > 80 {
		s = string(r[:80]) + "…"
	}
	return s
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return ' '
		}
		return r
	}, s)
}
