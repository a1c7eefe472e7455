// Package simulator is an in-process simulator of the 1Password Events API
// (v1 and v2), used by tests and by the `eventsapibeat demo` command.
//
// It is an independent oracle: it is written from the API reference
// (shared/docs/eventsapi-reference.md) and the recorded samples only, and it
// imports nothing from this repository, so that the client and the beat are
// checked against a separate reading of the API rather than against
// themselves.
//
// What it simulates:
//
//   - GET /api/auth/introspect (v1, PascalCase keys) and
//     GET /api/v2/auth/introspect (v2, snake_case keys);
//   - POST /api/{v1,v2}/{signinattempts,itemusages,auditevents} with a
//     ResetCursor body ({limit?, start_time?, end_time?}, {} or an empty body)
//     or a Cursor body ({cursor});
//   - ES256 JWT bearer tokens minted by [Server.IssueToken], verified on every
//     request (signature, alg, exp, nbf, revocation, feature scope);
//   - the documented limits: limit 1..1000 (default 100), the 120-day data
//     window, 600 requests/minute and 30,000 requests/hour per account;
//   - both observed error-body shapes ({"Error":{"Message":...}} and
//     {"status":...,"message":...});
//   - deterministic, realistic events (every documented enum value, MSP
//     fields, non-ASCII names, IPv6, missing locations, ...) generated from a
//     seed, plus optional "live" events that keep arriving as the clock moves;
//   - for resilience tests, injected faults on the events endpoints (5xx,
//     truncated bodies, HTML pages, connection resets, stalls, 429 storms;
//     see [Faults] and [Server.SetFaults]), limits changed while serving
//     ([Server.SetRateLimits]), revocation and its undoing ([Server.Revoke],
//     [Server.Unrevoke]), and a record of when requests arrived
//     ([Server.RequestTimes]).
//
// # Cursors
//
// A cursor is opaque to clients: base64url (no padding) of a 21-byte state
// followed by a 16-byte truncated HMAC-SHA256 of that state, so it cannot be
// forged or edited. The state holds the event type, the position of the next
// event (events are indexed in the order the API serves them: ascending
// timestamp, ties broken by a fixed generation order), the page size (the
// limit sticks to the cursor) and the optional end_time bound. A cursor is
// bound to its event type (an itemusages cursor sent to signinattempts is a
// 400) but not to the API version: v1 and v2 of one type serve the same
// events in two shapes, so a cursor obtained from /api/v1/itemusages may be
// sent to /api/v2/itemusages and vice versa. Encoding is deterministic, so an
// empty page returns the very cursor it was given, and polling that cursor
// again later returns events that have arrived since. The HMAC key is derived
// from Config.Seed, so a server restarted with the same seed accepts cursors of
// its predecessor (positions then refer to the new server's events).
//
// Without end_time a cursor tails: each request serves events whose timestamp
// is <= now. With end_time it never serves events after end_time and ends with
// has_more=false and an unchanging cursor. Events that have aged out of the
// 120-day window are skipped.
//
// The simulator owns no goroutine unless [Server.Start] is called; live events
// are computed lazily from the clock. [Server.Close] stops the listener.
package simulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Event types (also the JWT feature names and the last path element of the
// POST endpoints).
const (
	SignInAttempts = "signinattempts"
	ItemUsages     = "itemusages"
	AuditEvents    = "auditevents"
)

const (
	kindSignIn = iota
	kindItemUsage
	kindAudit
	numKinds
)

func kindName(k int) string {
	switch k {
	case kindSignIn:
		return SignInAttempts
	case kindItemUsage:
		return ItemUsages
	case kindAudit:
		return AuditEvents
	}
	return ""
}

func kindOf(name string) (int, bool) {
	switch name {
	case SignInAttempts:
		return kindSignIn, true
	case ItemUsages:
		return kindItemUsage, true
	case AuditEvents:
		return kindAudit, true
	}
	return 0, false
}

// DataWindow is how far back the API serves data (120 days).
const DataWindow = 120 * 24 * time.Hour

// Defaults applied by New.
const (
	DefaultSpan               = 24 * time.Hour
	DefaultLimit              = 100
	MaxLimit                  = 1000
	DefaultRateLimitPerMinute = 600
	DefaultRateLimitPerHour   = 30000
	// DefaultAudience is put in tokens' aud[0] when Config.Audience is empty
	// and the server was not started with Start (handler-only use). The
	// reserved .invalid TLD makes a client that derives its URL from aud[0]
	// fail fast instead of reaching a real host.
	DefaultAudience = "events.simulator.invalid"
)

// Error body shapes (Config.ErrorShape).
const (
	ErrorShapeLegacy = "legacy" // {"Error":{"Message":"Unauthorized"}}
	ErrorShapeV141   = "v141"   // {"status":401,"message":"Unauthorized"}
)

// Mixed cursor + reset behaviours (Config.MixedCursorAndReset).
const (
	MixedReject     = "reject"      // 400 Bad Request
	MixedCursorWins = "cursor-wins" // reset fields are validated, then ignored
)

// Config configures a Server. The zero value is usable: no stored events, no
// live events, real clock, default limits.
type Config struct {
	// Seed makes generation deterministic: two servers with the same Config
	// (and a fixed Now) serve byte-identical events.
	Seed int64
	// Events is the number of events to generate per type. Keys:
	// "signinattempts", "itemusages", "auditevents". Missing keys mean 0.
	Events map[string]int
	// Span spreads the generated events' timestamps over [Now()-Span, Now()]
	// (Now read once by New). Default 24h. It may exceed 120 days; the API
	// only serves the last 120 days.
	Span time.Duration
	// LiveInterval, if > 0, makes one new event per type arrive every
	// LiveInterval after New, with timestamp = arrival time. Live events are
	// computed lazily from the clock (no goroutine).
	LiveInterval time.Duration
	// Now is the clock (default time.Now). Tests may inject a fake clock.
	Now func() time.Time
	// Latency is added to every response (aborted if the request context is
	// cancelled). It uses real time, not Now.
	Latency time.Duration
	// Audience is the host put in tokens' aud[0]. Default: the listener
	// host:port when started with Start, else DefaultAudience. When set
	// explicitly, tokens whose aud does not contain it are rejected (401).
	Audience string
	// MSP makes v2 payloads include the MSP-only fields: account_uuid on
	// sign-ins and item usages, user_type/user_account_uuid in users,
	// external users (actor_type "external_user") from a provider account.
	MSP bool
	// ErrorShape is "legacy" (default) or "v141".
	ErrorShape string
	// MixedCursorAndReset is "reject" (default) or "cursor-wins".
	MixedCursorAndReset string
	// RateLimitPerMinute defaults to 600; negative disables.
	RateLimitPerMinute int
	// RateLimitPerHour defaults to 30000; negative disables.
	RateLimitPerHour int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up) to 429
	// responses.
	RetryAfter bool
}

// Stats are request counters (see Server.Stats). Maps are fresh copies.
//
// A request counts in Requests, ByPath, ByStatus and ByPathStatus when a
// status is sent, injected faults included (a 503 from ServerErrorRatio is
// counted under 503). Requests that get no response (reset by a fault, or
// abandoned by the client during Latency or a stall) are not counted there.
type Stats struct {
	// Requests is the number of requests answered.
	Requests int
	// ByPath counts requests per URL path; unknown paths are counted under
	// "<other>".
	ByPath map[string]int
	// ByStatus counts responses per HTTP status.
	ByStatus map[int]int
	// ByPathStatus counts responses per path and status.
	ByPathStatus map[string]map[int]int
	// RateLimited is the number of 429 responses caused by the rate-limit
	// budget. Injected 429s (Faults.RateLimitStormRatio) are not included:
	// they are counted in Faults[FaultRateLimitStorm] (ByStatus[429] counts
	// both).
	RateLimited int
	// ItemsServed counts the events returned per event type (v1 and v2) in
	// complete pages (truncated pages are not counted).
	ItemsServed map[string]int
	// Aborted counts requests that got no response because their context
	// was cancelled (or the Server closed) during Latency or an injected
	// stall.
	Aborted int
	// Faults counts injected faults by kind (FaultServerError,
	// FaultTruncate, FaultNonJSON, FaultReset, FaultStall,
	// FaultRateLimitStorm). A stall is counted when it starts, whether the
	// request is answered afterwards or aborted.
	Faults map[string]int
}

// maxRequestTimes bounds the history kept by RequestTimes.
const maxRequestTimes = 100_000

// Event is one generated event as the v2 endpoint serves it (or v1, for
// Server.EventsV1).
type Event struct {
	UUID      string
	Timestamp time.Time
	JSON      []byte
}

// Server is a simulated Events API. It is safe for concurrent use.
type Server struct {
	cfg   Config
	now   func() time.Time
	t0    int64 // UnixNano of Now() at New
	msp   bool
	mixed string

	key       *ecdsa.PrivateKey
	kid       string
	cursorKey []byte

	accountUUID     string
	integrationUUID string

	pools   *pools
	streams [numKinds]*stream

	limiter *rateLimiter
	handler http.Handler
	bufs    bufPool

	tokMu      sync.Mutex
	revokedJTI map[string]struct{}
	revokedRaw map[[32]byte]struct{}
	verified   map[string]*claims // signature-verified tokens

	faults faultState

	statMu    sync.Mutex
	stats     Stats
	times     []time.Time // ring of receipt times, len <= maxRequestTimes
	timesNext int         // next slot to overwrite once times is full

	closedCh chan struct{} // closed by Close

	mu       sync.Mutex
	audience string
	httpSrv  *http.Server
	closed   bool
	wg       sync.WaitGroup
}

// New validates cfg, generates the events and returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Span < 0 {
		return nil, errors.New("simulator: negative Span")
	}
	if cfg.Span == 0 {
		cfg.Span = DefaultSpan
	}
	if cfg.LiveInterval < 0 {
		return nil, errors.New("simulator: negative LiveInterval")
	}
	if cfg.Latency < 0 {
		return nil, errors.New("simulator: negative Latency")
	}
	switch cfg.ErrorShape {
	case "":
		cfg.ErrorShape = ErrorShapeLegacy
	case ErrorShapeLegacy, ErrorShapeV141:
	default:
		return nil, fmt.Errorf("simulator: unknown ErrorShape %q", cfg.ErrorShape)
	}
	switch cfg.MixedCursorAndReset {
	case "":
		cfg.MixedCursorAndReset = MixedReject
	case MixedReject, MixedCursorWins:
	default:
		return nil, fmt.Errorf("simulator: unknown MixedCursorAndReset %q", cfg.MixedCursorAndReset)
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if cfg.RateLimitPerHour == 0 {
		cfg.RateLimitPerHour = DefaultRateLimitPerHour
	}
	var counts [numKinds]int
	for name, n := range cfg.Events {
		k, ok := kindOf(name)
		if !ok {
			return nil, fmt.Errorf("simulator: unknown event type %q", name)
		}
		if n < 0 {
			return nil, fmt.Errorf("simulator: negative event count for %q", name)
		}
		counts[k] = n
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("simulator: generating signing key: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		now:        cfg.Now,
		msp:        cfg.MSP,
		mixed:      cfg.MixedCursorAndReset,
		key:        key,
		revokedJTI: map[string]struct{}{},
		revokedRaw: map[[32]byte]struct{}{},
		verified:   map[string]*claims{},
		limiter:    &rateLimiter{perMin: cfg.RateLimitPerMinute, perHour: cfg.RateLimitPerHour},
		audience:   cfg.Audience,
		closedCh:   make(chan struct{}),
	}
	s.kid = keyID(key)
	seedBytes := binary.BigEndian.AppendUint64(nil, uint64(cfg.Seed))
	ck := sha256.Sum256(append([]byte("eventsapibeat simulator cursor key v1\x00"), seedBytes...))
	s.cursorKey = ck[:]
	s.t0 = cfg.Now().UnixNano()

	s.pools = newPools(uint64(cfg.Seed), cfg.MSP)
	s.accountUUID = s.pools.accountUUID
	s.integrationUUID = s.pools.integrationUUID
	for k := 0; k < numKinds; k++ {
		s.streams[k] = newStream(k, uint64(cfg.Seed), counts[k], s.t0, int64(cfg.Span), int64(cfg.LiveInterval))
	}
	s.resetStatsLocked()
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

func keyID(key *ecdsa.PrivateKey) string {
	pub, err := key.PublicKey.ECDH()
	var b []byte
	if err == nil {
		b = pub.Bytes()
	}
	sum := sha256.Sum256(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:])[:26])
}

// Handler returns the HTTP handler serving the API (for httptest.NewServer or
// direct ServeHTTP calls).
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (e.g. "127.0.0.1:0") and serves the API in a
// goroutine owned by the Server until Close. It returns the base URL, e.g.
// "http://127.0.0.1:41234". Start may be called once.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("simulator: server closed")
	}
	if s.httpSrv != nil {
		return "", errors.New("simulator: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	hostport := ln.Addr().String()
	if s.cfg.Audience == "" {
		s.audience = hostport
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	s.httpSrv = srv
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = srv.Serve(ln)
	}()
	return "http://" + hostport, nil
}

// Close stops the listener started by Start (closing open connections) and
// waits for its goroutine. It also ends injected stalls (see Faults.Stall).
// It is idempotent. The Handler keeps working.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closedCh)
	srv := s.httpSrv
	s.mu.Unlock()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Audience returns the host tokens are issued for by default.
func (s *Server) Audience() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.audience == "" {
		return DefaultAudience
	}
	return s.audience
}

// AccountUUID returns the simulated account's UUID (the default
// 1password.com/auuid claim, and account_uuid in v2 payloads).
func (s *Server) AccountUUID() string { return s.accountUUID }

// IntegrationUUID returns the Events Reporting integration UUID (the tokens'
// sub claim and the introspection UUID).
func (s *Server) IntegrationUUID() string { return s.integrationUUID }

// Events returns every event generated for eventType that has arrived so far
// (generated events plus live events with timestamp <= now), in the order the
// API serves them, rendered exactly as the v2 endpoint serves them. Events
// older than the 120-day window are included (filter on Timestamp if needed)
// although the API no longer serves them. Unknown types return nil.
func (s *Server) Events(eventType string) []Event { return s.events(eventType, true) }

// EventsV1 is Events rendered in the v1 shape.
func (s *Server) EventsV1(eventType string) []Event { return s.events(eventType, false) }

func (s *Server) events(eventType string, v2 bool) []Event {
	k, ok := kindOf(eventType)
	if !ok {
		return nil
	}
	st := s.streams[k]
	hi := st.upperBound(s.now().UnixNano())
	out := make([]Event, 0, hi)
	var e event
	for i := 0; i < hi; i++ {
		s.genEvent(&e, k, i)
		b := s.appendEvent(make([]byte, 0, 1024), &e, v2)
		out = append(out, Event{UUID: e.uuid, Timestamp: time.Unix(0, e.ts).UTC(), JSON: b})
	}
	return out
}

// Stats returns a snapshot of the request counters.
func (s *Server) Stats() Stats {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	out := s.stats
	out.ByPath = copyMap(s.stats.ByPath)
	out.ByStatus = copyMap(s.stats.ByStatus)
	out.ItemsServed = copyMap(s.stats.ItemsServed)
	out.Faults = copyMap(s.stats.Faults)
	out.ByPathStatus = make(map[string]map[int]int, len(s.stats.ByPathStatus))
	for p, m := range s.stats.ByPathStatus {
		out.ByPathStatus[p] = copyMap(m)
	}
	return out
}

// ResetStats zeroes the request counters and forgets the RequestTimes.
func (s *Server) ResetStats() {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	s.resetStatsLocked()
}

func (s *Server) resetStatsLocked() {
	s.stats = Stats{
		ByPath:       map[string]int{},
		ByStatus:     map[int]int{},
		ByPathStatus: map[string]map[int]int{},
		ItemsServed:  map[string]int{},
		Faults:       map[string]int{},
	}
	s.times, s.timesNext = nil, 0
}

// RequestTimes returns, oldest first, the times (read from Config.Now) at
// which requests to the events endpoints (POST
// /api/{v1,v2}/{signinattempts,itemusages,auditevents}) were received: every
// such request, whatever its outcome (401, 429, injected fault, abandoned,
// ...), is recorded on arrival, before Latency. Only the last 100,000 are
// kept. ResetStats clears them. The slice is a fresh copy.
func (s *Server) RequestTimes() []time.Time {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	out := make([]time.Time, 0, len(s.times))
	if len(s.times) == maxRequestTimes {
		out = append(out, s.times[s.timesNext:]...)
		return append(out, s.times[:s.timesNext]...)
	}
	return append(out, s.times...)
}

func (s *Server) recordReceived(t time.Time) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	if len(s.times) < maxRequestTimes {
		s.times = append(s.times, t)
		return
	}
	s.times[s.timesNext] = t
	s.timesNext = (s.timesNext + 1) % maxRequestTimes
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// record counts an answered request; fault names the injected fault, if any.
func (s *Server) record(path string, status, items int, kind int, fault string) {
	s.statMu.Lock()
	defer s.statMu.Unlock()
	s.stats.Requests++
	s.stats.ByPath[path]++
	s.stats.ByStatus[status]++
	m := s.stats.ByPathStatus[path]
	if m == nil {
		m = map[int]int{}
		s.stats.ByPathStatus[path] = m
	}
	m[status]++
	if fault != "" {
		s.stats.Faults[fault]++
	} else if status == http.StatusTooManyRequests {
		s.stats.RateLimited++
	}
	if items > 0 {
		s.stats.ItemsServed[kindName(kind)] += items
	}
}

// recordFault counts a fault that sends no response (yet).
func (s *Server) recordFault(fault string) {
	s.statMu.Lock()
	s.stats.Faults[fault]++
	s.statMu.Unlock()
}

func (s *Server) recordAborted() {
	s.statMu.Lock()
	s.stats.Aborted++
	s.statMu.Unlock()
}

// Enums returns the enum values the generator covers, by name:
// "signin.category", "signin.type", "itemusage.action", "audit.action",
// "audit.object_type". The slices are fresh sorted copies.
func Enums() map[string][]string {
	out := map[string][]string{}
	add := func(name, v string) {
		for _, x := range out[name] {
			if x == v {
				return
			}
		}
		out[name] = append(out[name], v)
	}
	for _, sc := range signInScenarios {
		add("signin.category", sc.category)
		add("signin.type", sc.typ)
	}
	for _, sc := range itemUsageScenarios {
		add("itemusage.action", sc.action)
	}
	for _, sc := range auditScenarios {
		add("audit.action", sc.action)
		add("audit.object_type", sc.object)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}
