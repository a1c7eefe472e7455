package beater_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// exchange is one request the API answered, as seen on the wire.
type exchange struct {
	at     time.Time
	status int
	path   string
}

// recordingAPI serves the simulator behind a recorder of every exchange.
// It also shortens the Retry-After of 429s to one second, as a real API may
// answer, so that a soak with 429 storms runs in seconds.
type recordingAPI struct {
	mu  sync.Mutex
	log []exchange
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if code == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets the simulator reset connections through the recorder; such
// exchanges keep status 0.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.ResponseWriter.(http.Hijacker).Hijack()
}

// wrap records each request at its arrival, which is when the client had
// decided to send it, with the status it was answered.
func (a *recordingAPI) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			a.mu.Lock()
			a.log = append(a.log, exchange{at: arrived, status: sw.status, path: r.URL.Path})
			a.mu.Unlock()
		}()
		h.ServeHTTP(sw, r)
	})
}

func (a *recordingAPI) exchanges() []exchange {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]exchange(nil), a.log...)
	sort.Slice(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

// TestFaultSoak collects three streams from an API that fails 40 % of its
// answers: 5xx, truncated and non-JSON bodies, connection resets, stalls
// past the client timeout, and 429 storms. Every event must arrive exactly
// once, and after each 429 no stream may start a new request before
// Retry-After has passed.
func TestFaultSoak(t *testing.T) {
	const perType = 3000
	a := newAccount(t, perType, simulator.Config{Now: time.Now, RetryAfter: true})
	rec := &recordingAPI{}
	srv := httptest.NewServer(rec.wrap(a.sim.Handler()))
	defer srv.Close()
	a.baseURL = srv.URL
	a.sim.SetFaults(simulator.Faults{
		ServerErrorRatio:    0.12,
		TruncateRatio:       0.08,
		NonJSONRatio:        0.05,
		ResetRatio:          0.05,
		StallRatio:          0.03, // held until the client's timeout
		RateLimitStormRatio: 0.07,
	})

	stateDir, outDir := t.TempDir(), t.TempDir()
	section := a.beatConfig(stateDir, map[string]any{
		"timeout":         "500ms",
		"backoff":         map[string]any{"init": "20ms", "max": "100ms"},
		"circuit_breaker": map[string]any{"open_timeout": "200ms"},
	})
	for _, typ := range all.Types() {
		section[typ.ConfigKey].(map[string]any)["starting_cursor"] = `{"limit": 100, "start_time": "` + time.Now().Add(-80*time.Hour).UTC().Format(time.RFC3339) + `"}`
	}
	r := startBeat(t, section, "file", fileOutput(outDir))
	waitFor(t, "every event through the faults", 120*time.Second, func() bool {
		return len(readDocs(t, outDir)) >= 3*perType
	})
	for _, typ := range all.Types() {
		waitFor(t, typ.ConfigKey+" acknowledged", 30*time.Second, func() bool {
			return r.metric(typ.ConfigKey, "events.acked") == perType
		})
	}
	r.stop()
	checkOnce(t, a, readDocs(t, outDir))

	stats := a.sim.Stats()
	var log []exchange
	for _, ex := range rec.exchanges() {
		if !strings.Contains(ex.path, "introspect") {
			log = append(log, ex)
		}
	}
	storms, errors := 0, 0
	for i, ex := range log {
		if ex.status != http.StatusOK {
			errors++
		}
		if ex.status != http.StatusTooManyRequests {
			continue
		}
		storms++
		// Requests already on their way when the stream that got the 429
		// paused the budget may still arrive shortly after it; from then
		// until Retry-After (1s) has passed, nothing may arrive.
		quiet := 0
		for _, next := range log[i+1:] {
			d := next.at.Sub(ex.at)
			if d >= 950*time.Millisecond {
				break
			}
			if d >= 400*time.Millisecond {
				quiet++
			}
		}
		if quiet > 0 {
			t.Errorf("429 at %s: %d request(s) arrived between 0.4s and its Retry-After of 1s", ex.at.Format("15:04:05.000"), quiet)
		}
	}
	if storms < 3 || errors < 20 {
		t.Fatalf("the soak injected too little: %d 429s, %d failed answers of %d", storms, errors, len(log))
	}
	if stats.RateLimited != 0 {
		t.Errorf("the beat exceeded the API's own rate limit %d times", stats.RateLimited)
	}
	t.Logf("fault-soak: generated=%d requests=%d failed=%d 429s=%d faults=%v acked=%d",
		3*perType, len(log), errors, storms, stats.Faults, 3*perType)
}

// TestRevokedTokenRecovers: a stream whose token is revoked keeps retrying
// behind its breaker while the other streams finish, and catches up on its
// own once the token works again.
func TestRevokedTokenRecovers(t *testing.T) {
	const perType = 1500
	a := newAccount(t, perType, simulator.Config{})
	items, err := a.sim.IssueToken(simulator.TokenOptions{Features: []string{"itemusages"}})
	if err != nil {
		t.Fatal(err)
	}
	a.sim.Revoke(items)

	stateDir, outDir := t.TempDir(), t.TempDir()
	section := a.beatConfig(stateDir, map[string]any{
		"backoff":         map[string]any{"init": "10ms", "max": "50ms"},
		"circuit_breaker": map[string]any{"failure_threshold": 2, "open_timeout": "100ms", "success_threshold": 1},
	})
	section["item_usages"].(map[string]any)["auth_token"] = items
	r := startBeat(t, section, "file", fileOutput(outDir))

	// The other streams complete while item usages is refused.
	for _, key := range []string{"signin_attempts", "audit_events"} {
		waitFor(t, key+" while item_usages is refused", 60*time.Second, func() bool {
			return r.metric(key, "events.acked") == perType
		})
	}
	waitFor(t, "the item_usages breaker to open", 30*time.Second, func() bool {
		return r.metric("item_usages", "breaker.opened") > 0
	})
	if got := r.metric("item_usages", "events.published"); got != 0 {
		t.Fatalf("item_usages published %d events with a revoked token", got)
	}

	a.sim.Unrevoke(items)
	waitFor(t, "item_usages to recover", 60*time.Second, func() bool {
		return r.metric("item_usages", "events.acked") == perType
	})
	r.stop()
	checkOnce(t, a, readDocs(t, outDir))
}
