package simulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"
)

// maxBodyBytes caps request bodies; larger bodies are a 400.
const maxBodyBytes = 1 << 20

// reqBody is a parsed POST body. Fields that are absent or JSON null are
// treated as not sent.
type reqBody struct {
	hasCursor bool
	cursor    string
	hasLimit  bool
	limit     int
	hasStart  bool
	start     time.Time
	hasEnd    bool
	end       time.Time
}

func (b *reqBody) hasReset() bool { return b.hasLimit || b.hasStart || b.hasEnd }

var errBadRequest = errors.New("bad request")

// parseBody parses and validates a POST body: either empty (whitespace only),
// JSON null or a JSON object. Unknown keys are ignored (as a Go server
// decoding into a struct would). Every known key present is validated, even
// when it will be ignored.
func parseBody(body []byte) (reqBody, error) {
	var rb reqBody
	if len(bytes.TrimSpace(body)) == 0 {
		return rb, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return rb, errBadRequest
	}
	isNull := func(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }
	if raw, ok := m["cursor"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &rb.cursor); err != nil {
			return rb, errBadRequest
		}
		rb.hasCursor = true
	}
	if raw, ok := m["limit"]; ok && !isNull(raw) {
		n, err := parseLimit(raw)
		if err != nil {
			return rb, err
		}
		rb.hasLimit, rb.limit = true, n
	}
	for _, f := range []struct {
		key string
		has *bool
		t   *time.Time
	}{{"start_time", &rb.hasStart, &rb.start}, {"end_time", &rb.hasEnd, &rb.end}} {
		raw, ok := m[f.key]
		if !ok || isNull(raw) {
			continue
		}
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return rb, errBadRequest
		}
		// time.Time.UnmarshalText is strict RFC 3339 (fraction and any
		// offset allowed), as a Go server decoding time.Time would be.
		if err := f.t.UnmarshalText([]byte(str)); err != nil {
			return rb, errBadRequest
		}
		*f.has = true
	}
	return rb, nil
}

// parseLimit accepts a JSON number with an integer value in 1..MaxLimit
// (1000, 1e3 and 1000.0 are fine; 1.5, "10", true are not).
func parseLimit(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		return 0, errBadRequest
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < 1 || f > MaxLimit {
		return 0, errBadRequest
	}
	return int(f), nil
}

// Nanosecond timestamps only cover years 1678..2262; request times outside
// a safe range are clamped (no event is anywhere near the bounds).
var (
	minSafeTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	maxSafeTime = time.Date(2250, 1, 1, 0, 0, 0, 0, time.UTC)
)

func safeNanos(t time.Time) int64 {
	if t.Before(minSafeTime) {
		return minSafeTime.UnixNano()
	}
	if t.After(maxSafeTime) {
		return maxSafeTime.UnixNano()
	}
	return t.UnixNano()
}
