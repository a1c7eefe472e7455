package simulator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault kinds: the keys of Stats.Faults.
const (
	FaultServerError    = "server_error"     // 500/502/503 with the configured error body
	FaultTruncate       = "truncate"         // response body cut short
	FaultNonJSON        = "non_json"         // 200 with an HTML page
	FaultReset          = "reset"            // connection closed without a response
	FaultStall          = "stall"            // request held before being answered normally
	FaultRateLimitStorm = "rate_limit_storm" // 429 regardless of the budget
)

// Faults describes injected failures; the zero value injects none.
//
// Faults apply only to requests to an events endpoint (POST
// /api/{v1,v2}/{signinattempts,itemusages,auditevents}); introspection is
// never faulted. Each such request draws one fault (or none) from a
// deterministic PRNG seeded from Config.Seed. There is one PRNG sequence per
// event type (v1 and v2 of a type share it), restarted by every
// [Server.SetFaults] call, so the n-th request to a type after SetFaults gets
// the same fault on every run with the same seed, however requests to other
// types interleave with it.
//
// The ratios are probabilities in [0,1]; the kinds are mutually exclusive, so
// their sum must not exceed 1. A faulted request is decided after the path and
// method checks and before the token, the rate limit and the body are looked
// at: it is a failure of the infrastructure in front of the API. A faulted
// request changes no server state: it does not use rate-limit budget
// (ServerError, Truncate, NonJSON, Reset and RateLimitStorm never consult the
// budget) and, since cursors are stateless, the client retrying the same
// request afterwards gets exactly the page it would have got without the
// fault. A stalled request is the exception by design: once the stall ends
// it is answered (and accounted) like any other request.
type Faults struct {
	// ServerErrorRatio answers 500, 502 or 503 (rotating in that order, per
	// event type) with the configured error body shape.
	ServerErrorRatio float64
	// TruncateRatio answers with the response the request would otherwise
	// get (normally a 200 page; token and body are still checked, the rate
	// limit is not) with its body cut at a random point, at least one byte
	// short. The Content-Length is that of the cut body, unless TruncateAbort
	// is set: then the full length is declared and the connection is closed
	// mid-body (the client sees an unexpected EOF). Truncated pages are not
	// counted in Stats.ItemsServed.
	TruncateRatio float64
	TruncateAbort bool
	// NonJSONRatio answers 200 with an HTML error page (Content-Type
	// text/html), as a misbehaving proxy would.
	NonJSONRatio float64
	// ResetRatio closes the connection without any response (with TCP
	// SO_LINGER 0, so the peer sees a connection reset). It needs a
	// ResponseWriter that supports hijacking (an HTTP/1.x server such as
	// the one of Start or httptest.NewServer); with any other writer (HTTP/2,
	// httptest.ResponseRecorder) the handler panics with http.ErrAbortHandler,
	// which net/http servers turn into an aborted connection or stream.
	ResetRatio float64
	// StallRatio holds the request for Stall of real time (Config.Now is not
	// used), then answers it normally. A stall ends early, with no response,
	// when the request's context is done (the client gave up or timed out)
	// or the Server is closed; such requests count in Stats.Aborted. Stall
	// 0 holds the request until then. The request body is read before the
	// stall, so that a client hanging up is noticed.
	StallRatio float64
	Stall      time.Duration
	// RateLimitStormRatio answers 429 regardless of the budget (a "429
	// storm"), with a Retry-After header (seconds to the end of the current
	// minute window) when Config.RetryAfter is set. Storm 429s are counted in
	// Stats.Faults, not in Stats.RateLimited.
	RateLimitStormRatio float64
	// Types restricts faults to these event types ("signinattempts",
	// "itemusages", "auditevents"); nil or empty means all types.
	Types []string
}

// Validate reports whether f is usable by SetFaults.
func (f Faults) Validate() error {
	sum := 0.0
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"ServerErrorRatio", f.ServerErrorRatio},
		{"TruncateRatio", f.TruncateRatio},
		{"NonJSONRatio", f.NonJSONRatio},
		{"ResetRatio", f.ResetRatio},
		{"StallRatio", f.StallRatio},
		{"RateLimitStormRatio", f.RateLimitStormRatio},
	} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return fmt.Errorf("simulator: Faults.%s %v not in [0,1]", r.name, r.v)
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("simulator: Faults ratios sum to %v > 1", sum)
	}
	if f.Stall < 0 {
		return errors.New("simulator: negative Faults.Stall")
	}
	for _, t := range f.Types {
		if _, ok := kindOf(t); !ok {
			return fmt.Errorf("simulator: unknown event type %q in Faults.Types", t)
		}
	}
	return nil
}

// SetFaults replaces the injected faults; Faults{} turns them off. It may be
// called while serving: requests already past their fault decision are not
// affected. It restarts the per-type PRNG sequences and the 500/502/503
// rotation. It panics if f.Validate fails (a programming error in a test).
func (s *Server) SetFaults(f Faults) {
	if err := f.Validate(); err != nil {
		panic(err)
	}
	f.Types = append([]string(nil), f.Types...)
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.f = f
	fs.on = f.ServerErrorRatio > 0 || f.TruncateRatio > 0 || f.NonJSONRatio > 0 ||
		f.ResetRatio > 0 || f.StallRatio > 0 || f.RateLimitStormRatio > 0
	for k := range fs.types {
		fs.types[k] = len(f.Types) == 0
	}
	for _, t := range f.Types {
		k, _ := kindOf(t)
		fs.types[k] = true
	}
	fs.n = [numKinds]uint64{}
	fs.errs = [numKinds]int{}
}

type faultKind int

const (
	faultNone faultKind = iota
	faultReset
	faultServerError
	faultStorm
	faultNonJSON
	faultTruncate
	faultStall
)

// faultDecision is the fault drawn for one request.
type faultDecision struct {
	kind   faultKind
	status int           // faultServerError
	cut    float64       // faultTruncate: where to cut, as a fraction in [0,1)
	abort  bool          // faultTruncate
	stall  time.Duration // faultStall
}

type faultState struct {
	mu    sync.Mutex
	f     Faults
	on    bool
	types [numKinds]bool
	n     [numKinds]uint64 // draws per type since SetFaults
	errs  [numKinds]int    // server errors per type since SetFaults
}

var serverErrorStatuses = [...]int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}

// decideFault draws the fault for a request to an events endpoint of kind.
func (s *Server) decideFault(kind int) faultDecision {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if !fs.on || !fs.types[kind] {
		return faultDecision{}
	}
	n := fs.n[kind]
	fs.n[kind]++
	u, cut := faultDraws(uint64(s.cfg.Seed), kind, n)
	f := &fs.f
	cum := 0.0
	for _, c := range []struct {
		kind  faultKind
		ratio float64
	}{
		{faultReset, f.ResetRatio},
		{faultServerError, f.ServerErrorRatio},
		{faultStorm, f.RateLimitStormRatio},
		{faultNonJSON, f.NonJSONRatio},
		{faultTruncate, f.TruncateRatio},
		{faultStall, f.StallRatio},
	} {
		cum += c.ratio
		if c.ratio > 0 && u < cum {
			d := faultDecision{kind: c.kind}
			switch c.kind {
			case faultServerError:
				d.status = serverErrorStatuses[fs.errs[kind]%len(serverErrorStatuses)]
				fs.errs[kind]++
			case faultTruncate:
				d.cut, d.abort = cut, f.TruncateAbort
			case faultStall:
				d.stall = f.Stall
			}
			return d
		}
	}
	return faultDecision{}
}

// faultDraws returns two uniform values in [0,1) for the n-th draw of kind:
// the n-th output of a SplitMix64 stream whose start depends on the seed and
// the kind, and one more mixing step of it.
func faultDraws(seed uint64, kind int, n uint64) (float64, float64) {
	const golden = 0x9e3779b97f4a7c15
	base := mix(mix(seed, 0x6661756c74732121), uint64(kind)) // "faults!!"
	a := mix(base+n*golden, 0)
	b := mix(a, 1)
	return float64(a>>11) / (1 << 53), float64(b>>11) / (1 << 53)
}

// resetConnection closes the request's connection without a response.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok { // *tls.Conn: no close_notify
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST instead of FIN
	}
	_ = raw.Close()
}

// stall waits d (forever if d is 0) and reports whether it did so fully,
// rather than ending because ctx is done or the Server was closed.
func (s *Server) stall(ctx context.Context, d time.Duration) bool {
	var expired <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
		return true
	case <-ctx.Done():
		return false
	case <-s.closedCh:
		return false
	}
}

// sendTruncated writes rep with its body cut as f says.
func (s *Server) sendTruncated(w http.ResponseWriter, path string, rep reply, f faultDecision) {
	defer s.release(rep)
	n := len(rep.body)
	cut := min(int(f.cut*float64(n)), max(n-1, 0))
	declared := cut
	if f.abort {
		declared = n
	}
	s.record(path, rep.status, 0, rep.kind, FaultTruncate)
	h := w.Header()
	for k, v := range rep.hdr {
		h[k] = v
	}
	h.Set("Content-Type", rep.contentTypeOrJSON())
	h.Set("Content-Length", strconv.Itoa(declared))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body[:cut])
	if f.abort {
		// Returning with fewer bytes written than declared makes net/http
		// close the connection after flushing what was written.
		_ = http.NewResponseController(w).Flush()
	}
}

// proxyErrorPage is what a proxy or gateway in front of the API might send
// with a 200 status.
const proxyErrorPage = `<!DOCTYPE html>
<html>
<head><title>Service Temporarily Unavailable</title></head>
<body>
<h1>Service Temporarily Unavailable</h1>
<p>The server is temporarily unable to service your request. Please try again later.</p>
<hr><address>proxy</address>
</body>
</html>
`

const htmlContentType = "text/html; charset=utf-8"

// retryAfterHeader renders d as a Retry-After header (whole seconds, rounded
// up, at least 1).
func retryAfterHeader(d time.Duration) http.Header {
	secs := int64((d + time.Second - 1) / time.Second)
	return http.Header{"Retry-After": {strconv.FormatInt(max(secs, 1), 10)}}
}
