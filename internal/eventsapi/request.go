package eventsapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of ResetCursor.Limit (the API answers 400 outside them).
const (
	MinLimit = 1
	MaxLimit = 1000
)

// ResetCursor starts (or restarts) a stream: the body of the first request.
// The zero value encodes as {} and lets the API use its defaults (100 items
// per page, starting one hour ago).
type ResetCursor struct {
	Limit     int        `json:"limit,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
	EndTime   *time.Time `json:"end_time,omitempty"`
}

// IsZero reports whether r sets nothing.
func (r ResetCursor) IsZero() bool {
	return r.Limit == 0 && r.StartTime == nil && r.EndTime == nil
}

// Validate checks what the API would reject with a 400, so a bad setting
// fails at startup instead of on every poll. Limit 0 means "API default".
func (r ResetCursor) Validate() error {
	if r.Limit != 0 && (r.Limit < MinLimit || r.Limit > MaxLimit) {
		return fmt.Errorf("limit must be from %d to %d, got %d", MinLimit, MaxLimit, r.Limit)
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"start_time", r.StartTime}, {"end_time", r.EndTime}} {
		// RFC 3339 (and time.Time's JSON encoding) only has 4-digit years.
		if f.t != nil && (f.t.UTC().Year() < 1 || f.t.UTC().Year() > 9999) {
			return fmt.Errorf("%s must be between years 0001 and 9999 in UTC", f.name)
		}
	}
	if r.StartTime != nil && r.EndTime != nil && r.StartTime.After(*r.EndTime) {
		return errors.New("start_time is after end_time")
	}
	return nil
}

// MarshalJSON writes times in RFC 3339 UTC (with nanoseconds only when set),
// whatever their location, so the body does not depend on the host's zone.
func (r ResetCursor) MarshalJSON() ([]byte, error) {
	type plain ResetCursor // drops this method, keeps the tags
	p := plain(r)
	if p.StartTime != nil {
		t := p.StartTime.UTC()
		p.StartTime = &t
	}
	if p.EndTime != nil {
		t := p.EndTime.UTC()
		p.EndTime = &t
	}
	return json.Marshal(p)
}

func resetCursorError(format string, args ...any) error {
	return errors.New("eventsapi: starting_cursor: " + fmt.Sprintf(format, args...))
}

// ParseResetCursor parses the starting_cursor setting, a JSON object such as
// { "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }. Whitespace around
// it (a YAML folded scalar adds a newline) is ignored, and an empty string is
// the zero ResetCursor. Unknown keys are ignored for forward compatibility;
// null values count as absent.
func ParseResetCursor(s string) (ResetCursor, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ResetCursor{}, nil
	}
	if s[0] != '{' {
		return ResetCursor{}, resetCursorError("must be a JSON object like {\"limit\": 1000, \"start_time\": \"2020-01-01T00:00:00Z\"}")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return ResetCursor{}, resetCursorError("not valid JSON: %s", oneLine(err.Error(), 120))
	}
	if _, ok := m["cursor"]; ok {
		// A cursor here would be sent together with the reset fields, and the
		// API's behaviour for such mixed bodies is undocumented.
		return ResetCursor{}, resetCursorError("must be a ResetCursor (limit, start_time, end_time), not a cursor")
	}
	var r ResetCursor
	if v, ok := m["limit"]; ok && !isNull(v) {
		n, err := parseLimit(v)
		if err != nil {
			return ResetCursor{}, err
		}
		r.Limit = n
	}
	var err error
	if r.StartTime, err = parseTimeField(m, "start_time"); err != nil {
		return ResetCursor{}, err
	}
	if r.EndTime, err = parseTimeField(m, "end_time"); err != nil {
		return ResetCursor{}, err
	}
	if err := r.Validate(); err != nil {
		return ResetCursor{}, resetCursorError("%s", err.Error())
	}
	return r, nil
}

func parseLimit(v json.RawMessage) (int, error) {
	if !isJSONNumber(v) {
		return 0, resetCursorError("limit must be a number")
	}
	// The spec types limit as "number", so 1000.0 and 1e3 are accepted.
	f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
	if err != nil {
		return 0, resetCursorError("limit must be a number from %d to %d", MinLimit, MaxLimit)
	}
	if f < MinLimit || f > MaxLimit {
		return 0, resetCursorError("limit must be from %d to %d, got %s", MinLimit, MaxLimit, strconv.FormatFloat(f, 'g', 6, 64))
	}
	if f != float64(int64(f)) {
		return 0, resetCursorError("limit must be a whole number, got %s", strconv.FormatFloat(f, 'g', 6, 64))
	}
	return int(f), nil
}

func parseTimeField(m map[string]json.RawMessage, key string) (*time.Time, error) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, resetCursorError("%s must be an RFC 3339 string", key)
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !isStrictRFC3339(s) {
		return nil, resetCursorError("%s is not an RFC 3339 time like 2020-01-01T00:00:00Z", key)
	}
	t = t.UTC()
	return &t, nil
}

// Request is the body of one POST: exactly one of Cursor (continue) or Reset
// (start over). A non-empty Cursor together with a non-zero Reset is
// rejected, because the API's behaviour for mixed bodies is undocumented.
type Request struct {
	Cursor string
	Reset  ResetCursor
}

var errMixedRequest = errors.New("request has both a cursor and reset fields; send exactly one")

// MarshalJSON encodes {"cursor":"..."} or the ResetCursor object.
func (r Request) MarshalJSON() ([]byte, error) {
	b, err := r.body()
	if err != nil {
		return nil, err
	}
	return b, nil
}

// body is the exact request body. Unlike json.Marshal it does not escape
// <, > and &, so a cursor goes back byte for byte as it was received.
func (r Request) body() ([]byte, error) {
	if r.Cursor != "" {
		if !r.Reset.IsZero() {
			return nil, errMixedRequest
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(struct {
			Cursor string `json:"cursor"`
		}{r.Cursor}); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	if err := r.Reset.Validate(); err != nil {
		return nil, err
	}
	return r.Reset.MarshalJSON()
}

// Page is one response of a POST endpoint. Items are raw JSON objects, to be
// decoded by the event type's mapper. Cursor is never empty.
type Page struct {
	Cursor  string
	HasMore bool
	Items   []json.RawMessage
}

// isStrictRFC3339 checks the RFC 3339 date-time grammar, which time.Parse
// does not fully enforce (it accepts a 1-digit hour and a comma before the
// fraction): YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM). Lowercase t and z, which
// RFC 3339 allows, are already refused by time.Parse.
func isStrictRFC3339(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 {
		return false
	}
	for i := 0; i < len(layout); i++ {
		c := s[i]
		switch layout[i] {
		case 'd':
			if c < '0' || c > '9' {
				return false
			}
		default:
			if c != layout[i] {
				return false
			}
		}
	}
	rest := s[len(layout):]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 {
			return false
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
		return true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		for _, i := range []int{1, 2, 4, 5} {
			if rest[i] < '0' || rest[i] > '9' {
				return false
			}
		}
		return true
	}
	return false
}
