package beater_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/monitoring"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// snapshot reads the beat's eventsapibeat.* metrics as /stats does.
func (r *running) snapshot() monitoring.FlatSnapshot {
	return monitoring.CollectFlatSnapshot(r.reg, monitoring.Full, false)
}

// TestEndToEndMetrics runs a known backfill through the real pipeline and
// checks every per-stream metric against what the simulator served: events,
// pages, requests by status (with 429s from the simulator's fault
// injection), retries, breaker, newest event time, lag and cursor age on the
// simulator's clock, and the request budget left.
func TestEndToEndMetrics(t *testing.T) {
	const (
		perType = 1050
		limit   = 100
		pages   = (perType + limit - 1) / limit // the last, partial page says has_more: false
		faulted = "itemusages"
	)
	a := newAccount(t, perType, simulator.Config{})
	// The recorder answers 429s with Retry-After: 1 (see recordingAPI).
	rec := &recordingAPI{}
	srv := httptest.NewServer(rec.wrap(a.sim.Handler()))
	defer srv.Close()
	a.baseURL = srv.URL
	// The fault sequence is deterministic for the account's seed.
	a.sim.SetFaults(simulator.Faults{RateLimitStormRatio: 0.2, Types: []string{faulted}})

	// One cursor chain per stream: the page counts below are exact. (The
	// parallel backfill's counts are tested in backfill_test.go.)
	section := a.beatConfig(t.TempDir(), map[string]any{"backfill.parallel_slices": 1})
	for _, typ := range all.Types() {
		s := section[typ.ConfigKey].(map[string]any)
		s["starting_cursor"] = fmt.Sprintf(`{"limit": %d, "start_time": %q}`, limit, a.clock.Now().Add(-80*time.Hour).Format(time.RFC3339))
		// One poll after the backfill would add a page: none within the test.
		s["sample_frequency"] = "1h"
	}
	// Lag and cursor age on the simulator's clock, which stands still.
	r := startBeatWithOptions(t, section, "file", fileOutput(t.TempDir()), beater.Options{MonitoringClock: a.clock.Now})

	newest := map[string]string{}
	for _, typ := range all.Types() {
		var last time.Time
		for _, ev := range a.sim.Events(typ.Name) {
			if ev.Timestamp.After(last) {
				last = ev.Timestamp
			}
		}
		newest[typ.Name] = last.UTC().Format(monitoring.TSLayout)
		prefix := "eventsapibeat." + typ.ConfigKey + "."
		waitFor(t, typ.ConfigKey+" to acknowledge and commit everything", 60*time.Second, func() bool {
			s := r.snapshot()
			return s.Ints[prefix+"events.acked"] == perType && s.Strings[prefix+"cursor.last_event_time"] == newest[typ.Name]
		})
	}
	snap := r.snapshot()
	stats := a.sim.Stats()
	r.stop()

	if stats.Faults[simulator.FaultRateLimitStorm] == 0 {
		t.Fatal("the simulator injected no 429: the test checks nothing about them; raise RateLimitStormRatio")
	}
	for _, typ := range all.Types() {
		prefix := "eventsapibeat." + typ.ConfigKey + "."
		byStatus := stats.ByPathStatus["/api/v2/"+typ.Name]
		limited := int64(byStatus[http.StatusTooManyRequests])
		if typ.Name != faulted && limited != 0 {
			t.Fatalf("%s got %d 429s; only %s is faulted", typ.Name, limited, faulted)
		}
		want := map[string]int64{
			"events.published":      perType,
			"events.acked":          perType,
			"events.mapping_errors": 0,
			"pages":                 pages,
			"requests.total":        pages + limited,
			"requests.status.2xx":   int64(byStatus[http.StatusOK]),
			"requests.status.4xx":   limited,
			"requests.status.5xx":   0,
			"requests.status.none":  0,
			"requests.rate_limited": limited,
			"requests.errors":       limited,
			"requests.retries":      limited,
			"breaker.opened":        0,
			"lag.seconds_gauge":     0,
			// Every page was committed at the simulator's (frozen) now.
			"cursor.age_seconds_gauge": 0,
			"cursor.commit_errors":     0,
			// The three streams share the account's budget; the hour holds
			// every request the simulator answered, introspection included.
			"rate_limit.remaining_hour_gauge": int64(29000 - stats.Requests),
		}
		if byStatus[http.StatusOK] != pages {
			t.Errorf("%s: the simulator answered %d pages with 200, want %d", typ.Name, byStatus[http.StatusOK], pages)
		}
		for name, v := range want {
			if got := snap.Ints[prefix+name]; got != v {
				t.Errorf("%s%s = %d, want %d", prefix, name, got, v)
			}
		}
		if got := snap.Ints[prefix+"cursor.commits"]; got < 1 || got > pages {
			t.Errorf("%scursor.commits = %d, want 1..%d", prefix, got, pages)
		}
		if got := snap.Ints[prefix+"rate_limit.remaining_minute_gauge"]; got > 580 || got < int64(580-stats.Requests) {
			t.Errorf("%srate_limit.remaining_minute_gauge = %d, want between %d and 580", prefix, got, 580-stats.Requests)
		}
		waited := snap.Ints[prefix+"rate_limit.waited_ms"]
		if typ.Name == faulted && waited <= 0 {
			t.Errorf("%srate_limit.waited_ms = %d after %d 429s with Retry-After", prefix, waited, limited)
		}
		for name, v := range map[string]string{
			"events.newest_time":     newest[typ.Name],
			"cursor.last_event_time": newest[typ.Name],
			"cursor.last_commit":     a.clock.Now().UTC().Format(monitoring.TSLayout),
			"breaker.state":          "closed",
		} {
			if got := snap.Strings[prefix+name]; got != v {
				t.Errorf("%s%s = %q, want %q", prefix, name, got, v)
			}
		}
		if !snap.Bools[prefix+"caught_up"] {
			t.Errorf("%scaught_up = false after the last page", prefix)
		}
	}
	assertNoToken(t, a.token, "the metrics", metricsJSON(t, r))
	t.Logf("metrics e2e: %d events per stream, %d 429s injected into %s, %d requests answered", perType, stats.Faults[simulator.FaultRateLimitStorm], faulted, stats.Requests)
}
