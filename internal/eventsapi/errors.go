package eventsapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrorKind says what the stream worker should do about a failed call.
type ErrorKind int

const (
	// KindTransient: retry with backoff. 5xx, 408, network errors,
	// timeouts (including an expired context deadline), connection resets,
	// and 200 responses that are truncated, not JSON, too large, or lack a
	// cursor: a retry of the same request may succeed.
	KindTransient ErrorKind = iota + 1
	// KindRateLimited: 429. Wait RetryAfter if set, else until the
	// per-minute window resets.
	KindRateLimited
	// KindUnauthorized: 401. The token is invalid, expired, revoked, or not
	// scoped for the endpoint. Retrying does not help.
	KindUnauthorized
	// KindForbidden: 403 (undocumented; treated like an auth problem).
	KindForbidden
	// KindNotFound: 404. Most likely a wrong base URL or API version.
	KindNotFound
	// KindBadRequest: 400 and other 4xx, unexpected redirects, and
	// requests this package refuses to send. Fix the request or config.
	KindBadRequest
	// KindCanceled: the caller's context was canceled. Not a failure: the
	// worker is stopping, so it should return without logging an error.
	KindCanceled
	// KindTokenChanged: a 401 to a token that the token source has
	// replaced since (a rotated token file). Repeat the request now: it
	// carries the new token. The client does not repeat it by itself, so
	// that the repeat goes through the caller's budget and metrics.
	KindTokenChanged
)

var kindNames = map[ErrorKind]string{
	KindTransient:    "transient",
	KindRateLimited:  "rate limited",
	KindUnauthorized: "unauthorized",
	KindForbidden:    "forbidden",
	KindNotFound:     "not found",
	KindBadRequest:   "bad request",
	KindCanceled:     "canceled",
	KindTokenChanged: "token changed since",
}

func (k ErrorKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "ErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// sentinel lets errors.Is(err, ErrUnauthorized) match any *Error of that kind.
type sentinel ErrorKind

func (s sentinel) Error() string { return "eventsapi: " + ErrorKind(s).String() }

// Sentinels for errors.Is. They match by Kind.
var (
	ErrTransient    error = sentinel(KindTransient)
	ErrRateLimited  error = sentinel(KindRateLimited)
	ErrUnauthorized error = sentinel(KindUnauthorized)
	ErrForbidden    error = sentinel(KindForbidden)
	ErrNotFound     error = sentinel(KindNotFound)
	ErrBadRequest   error = sentinel(KindBadRequest)
	ErrCanceled     error = sentinel(KindCanceled)
	// ErrTokenChanged: see KindTokenChanged.
	ErrTokenChanged error = sentinel(KindTokenChanged)
)

// Error is every error returned by Client.Fetch and Client.Introspect.
// Its Error string is one line, names Op and Status, and never contains the
// token or the response body (only Message, a capped and cleaned excerpt).
type Error struct {
	Kind       ErrorKind
	Op         string        // e.g. "POST /api/v2/itemusages"
	Status     int           // HTTP status; 0 if no response was received
	Message    string        // from the error body, or a description of what was wrong with a 200 body
	RetryAfter time.Duration // from a Retry-After header; 0 if absent
	Err        error         // underlying cause (network error, ctx.Err(), ...); may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("eventsapi: ")
	b.WriteString(e.Op)
	statusText := ""
	if e.Status != 0 {
		statusText = http.StatusText(e.Status)
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
		if statusText != "" {
			b.WriteByte(' ')
			b.WriteString(statusText)
		}
	}
	b.WriteString(" (")
	b.WriteString(e.Kind.String())
	b.WriteByte(')')
	if e.Message != "" && e.Message != statusText {
		b.WriteString(": ")
		b.WriteString(oneLine(e.Message, maxMessageLen))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(oneLine(e.Err.Error(), 2*maxMessageLen))
	}
	if e.RetryAfter > 0 {
		b.WriteString("; retry after ")
		b.WriteString(e.RetryAfter.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the Err* sentinels by Kind.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && ErrorKind(s) == e.Kind
}

// Retryable reports whether repeating the same request later may succeed:
// transient and rate-limited errors, and a 401 to a token replaced since.
// Canceled is not retryable: the caller asked to stop.
func Retryable(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Kind == KindTransient || e.Kind == KindRateLimited || e.Kind == KindTokenChanged
}

// KindOf returns the Kind of the first *Error in err's chain, or 0.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// kindForStatus maps a non-2xx HTTP status to what the worker should do.
func kindForStatus(status int) ErrorKind {
	switch {
	case status == http.StatusUnauthorized:
		return KindUnauthorized
	case status == http.StatusForbidden:
		return KindForbidden
	case status == http.StatusNotFound:
		return KindNotFound
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusRequestTimeout, status >= 500:
		return KindTransient
	default:
		// 400, other 4xx, and 1xx/3xx that reached us (a redirect the
		// http.Client did not follow points at a wrong base URL).
		return KindBadRequest
	}
}

const maxMessageLen = 200

// oneLine makes s safe for a one-line log message: control and format
// characters (newlines, ANSI escapes, bidi overrides) become spaces, runs of
// spaces collapse, and the result is capped at max runes.
func oneLine(s string, max int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			r = ' '
		}
		if r == ' ' {
			if space || n == 0 {
				continue
			}
			space = true
		} else {
			space = false
		}
		if n == max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimRight(b.String(), " ")
}
