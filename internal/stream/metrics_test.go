package stream

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/monitoring"

	"github.com/eventsapibeat/eventsapibeat/internal/budget"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// manualClock is a clock that moves only when told to. With autoAdvance, a
// timer made by After advances it by the timer's duration and fires at
// once, so a budget wait never blocks on real time.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

var clockStart = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func newManualClock() *manualClock { return &manualClock{t: clockStart} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *manualClock) autoAdvance(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// snapshot reads a registry the way /stats and the metrics log do.
func snapshot(reg *monitoring.Registry) monitoring.FlatSnapshot {
	return monitoring.CollectFlatSnapshot(reg, monitoring.Full, false)
}

func TestStatusClass(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{nil, "2xx"},
		{&eventsapi.Error{Kind: eventsapi.KindTransient, Status: 200, Message: "truncated"}, "2xx"},
		{&eventsapi.Error{Kind: eventsapi.KindBadRequest, Status: 302}, "3xx"},
		{&eventsapi.Error{Kind: eventsapi.KindUnauthorized, Status: 401}, "4xx"},
		{&eventsapi.Error{Kind: eventsapi.KindRateLimited, Status: 429}, "4xx"},
		{&eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}, "5xx"},
		{&eventsapi.Error{Kind: eventsapi.KindTransient, Err: errors.New("connection reset")}, "none"},
		{&eventsapi.Error{Kind: eventsapi.KindCanceled, Err: context.Canceled}, "none"},
		{errors.New("not an API error"), "none"},
		{&eventsapi.Error{Kind: eventsapi.KindBadRequest, Status: 999}, "other"},
	}
	for _, tc := range cases {
		if got := statusClass(tc.err); got != tc.want {
			t.Errorf("statusClass(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestMetricsRegistryNamesAndKinds(t *testing.T) {
	reg := monitoring.NewRegistry()
	NewMetrics(reg)
	snap := snapshot(reg)
	ints := []string{
		"pages", "requests.total", "requests.errors", "requests.retries", "requests.rate_limited", "requests.introspect",
		"requests.status.2xx", "requests.status.3xx", "requests.status.4xx", "requests.status.5xx",
		"requests.status.none", "requests.status.other", "rate_limit.waited_ms",
		"rate_limit.remaining_minute_gauge", "rate_limit.remaining_hour_gauge",
		"breaker.opened", "events.published", "events.acked", "events.mapping_errors",
		"cursor.commits", "cursor.commit_errors", "lag.seconds_gauge", "cursor.age_seconds_gauge",
	}
	for _, name := range ints {
		if _, ok := snap.Ints[name]; !ok {
			t.Errorf("int metric %s missing; have %v", name, snap.Ints)
		}
	}
	for _, name := range []string{"breaker.state", "events.newest_time", "cursor.last_event_time", "cursor.last_commit"} {
		if _, ok := snap.Strings[name]; !ok {
			t.Errorf("string metric %s missing; have %v", name, snap.Strings)
		}
	}
	if _, ok := snap.Bools["caught_up"]; !ok {
		t.Errorf("bool metric caught_up missing")
	}
	if n := len(snap.Ints) + len(snap.Strings) + len(snap.Bools) + len(snap.Floats); n != len(ints)+5 {
		t.Errorf("%d metrics registered, want %d: a new metric needs a test and a line in the README", n, len(ints)+5)
	}
}

func TestMetricsLagFollowsThePosition(t *testing.T) {
	clk := newManualClock()
	reg := monitoring.NewRegistry()
	m := NewMetricsWithClock(reg, clk.Now)
	lagGauge := func() int64 { return snapshot(reg).Ints["lag.seconds_gauge"] }

	// A fresh stream without a start time: lag unknown.
	if _, ok := m.Lag(); ok || lagGauge() != -1 {
		t.Fatalf("lag before anything is known = %d, want -1", lagGauge())
	}

	from := clockStart.Add(-10 * 24 * time.Hour)
	m.start(nil, eventsapi.ResetCursor{StartTime: &from}, nil)
	if got := lagGauge(); got != 10*24*3600 {
		t.Fatalf("lag at start = %d s, want the 10 days since start_time", got)
	}

	// Backfilling: the position is the newest event published.
	clk.Advance(time.Minute)
	m.pageFetched(false)
	m.published(1000, clockStart.Add(-2*time.Hour))
	if got := lagGauge(); got != 2*3600+60 {
		t.Fatalf("lag while backfilling = %d s, want 2h01m", got)
	}
	if m.CaughtUp.Get() {
		t.Fatal("caught_up while the page said has_more")
	}
	// An older event (pages never go back, but be safe) keeps the newest.
	m.published(1, clockStart.Add(-3*time.Hour))
	if got := m.NewestEventTime.Get(); !got.Equal(clockStart.Add(-2 * time.Hour)) {
		t.Fatalf("events.newest_time = %s", got)
	}

	// has_more: false: everything up to the fetch has been read, however
	// old the newest event is (a quiet account).
	m.pageFetched(true)
	if got := lagGauge(); got != 0 || !m.CaughtUp.Get() {
		t.Fatalf("lag when caught up = %d s (caught_up %v), want 0", got, m.CaughtUp.Get())
	}
	// Requests fail from now on: the lag grows with the time since the
	// last page that reached the end.
	clk.Advance(90 * time.Second)
	if got := lagGauge(); got != 90 {
		t.Fatalf("lag 90 s after the last successful poll = %d", got)
	}
	// A burst: the next page says has_more again.
	m.pageFetched(false)
	m.published(5, clockStart.Add(time.Minute))
	if got := lagGauge(); got != 90 {
		t.Fatalf("lag behind a burst = %d s, want the 90 s since the newest event", got)
	}
}

func TestMetricsResumeAndCursorAge(t *testing.T) {
	clk := newManualClock()
	reg := monitoring.NewRegistry()
	m := NewMetricsWithClock(reg, clk.Now)
	age := func() int64 { return snapshot(reg).Ints["cursor.age_seconds_gauge"] }

	clk.Advance(20 * time.Second)
	if got := age(); got != 20 {
		t.Fatalf("cursor age before any commit = %d s, want the 20 s since start", got)
	}
	m.committed(clockStart.Add(-time.Hour))
	if got := age(); got != 0 || m.Commits.Get() != 1 {
		t.Fatalf("cursor age right after a commit = %d s, commits %d", got, m.Commits.Get())
	}
	if got := snapshot(reg).Strings["cursor.last_event_time"]; got != "2026-06-01T11:00:00.000Z" {
		t.Fatalf("cursor.last_event_time = %q", got)
	}
	clk.Advance(5 * time.Minute)
	if got := age(); got != 300 {
		t.Fatalf("cursor age 5 min after the commit = %d s", got)
	}

	// A restart continues from the state file's times.
	m2 := NewMetricsWithClock(monitoring.NewRegistry(), clk.Now)
	saved := state.State{Cursor: "c", LastEventTime: clk.Now().Add(-time.Hour), UpdatedAt: clk.Now().Add(-10 * time.Minute)}
	m2.start(&saved, eventsapi.ResetCursor{}, nil)
	if got := m2.CursorAge(); got != 10*time.Minute {
		t.Fatalf("cursor age after resume = %s, want the 10 min since the state was written", got)
	}
	if lag, ok := m2.Lag(); !ok || lag != time.Hour {
		t.Fatalf("lag after resume = %s %v, want 1h", lag, ok)
	}
	if !m2.Newest().Equal(saved.LastEventTime) || !m2.LastEventTime.Get().Equal(saved.LastEventTime) {
		t.Fatalf("newest after resume = %s", m2.Newest())
	}
}

func TestMetricsBudgetLeft(t *testing.T) {
	clk := newManualClock()
	newBudget := func(perMinute, perHour int) *budget.Budget {
		return budget.New(budget.Config{PerMinute: perMinute, PerHour: perHour, Now: clk.Now, After: clk.autoAdvance})
	}
	cases := []struct {
		name             string
		budget           *budget.Budget
		requests         int
		penalize         bool
		wantMin, wantHou int
	}{
		{"no budget", nil, 0, false, -1, -1},
		{"fresh", newBudget(580, 29000), 0, false, 580, 29000},
		{"after requests", newBudget(580, 29000), 7, false, 573, 28993},
		{"unlimited minute", newBudget(-1, 100), 3, false, -1, 97},
		{"paused after a 429", newBudget(580, 29000), 2, true, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := monitoring.NewRegistry()
			m := NewMetricsWithClock(reg, clk.Now)
			m.start(nil, eventsapi.ResetCursor{}, tc.budget)
			for i := 0; i < tc.requests; i++ {
				if err := tc.budget.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if tc.penalize {
				tc.budget.Penalize(time.Minute)
			}
			snap := snapshot(reg)
			if got := snap.Ints["rate_limit.remaining_minute_gauge"]; got != int64(tc.wantMin) {
				t.Errorf("remaining_minute = %d, want %d", got, tc.wantMin)
			}
			if got := snap.Ints["rate_limit.remaining_hour_gauge"]; got != int64(tc.wantHou) {
				t.Errorf("remaining_hour = %d, want %d", got, tc.wantHou)
			}
		})
	}
	// The minute frees up as time passes.
	b := newBudget(10, 100)
	m := NewMetricsWithClock(nil, clk.Now)
	m.start(nil, eventsapi.ResetCursor{}, b)
	for i := 0; i < 4; i++ {
		_ = b.Wait(context.Background())
	}
	clk.Advance(61 * time.Second)
	if minute, hour := m.BudgetLeft(); minute != 10 || hour != 96 {
		t.Fatalf("budget left a minute later = %d/min %d/h, want 10 and 96", minute, hour)
	}
}

// TestWorkerMetrics runs a worker through pages, a 5xx and a 429 and checks
// every counter against what happened.
func TestWorkerMetrics(t *testing.T) {
	clk := newManualClock()
	limited := &eventsapi.Error{Kind: eventsapi.KindRateLimited, Status: 429, RetryAfter: 20 * time.Millisecond}
	down := &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}
	reset := &eventsapi.Error{Kind: eventsapi.KindTransient, Err: errors.New("connection reset by peer")}
	api := &fakeAPI{script: map[string][]reply{
		"v2 ":   {{page: page("c1", true, "a", "b")}},
		"v2 c1": {{err: down}, {err: limited}, {err: reset}, {page: page("c2", false, "c")}},
	}}
	b := budget.New(budget.Config{PerMinute: 100, PerHour: 1000, Now: clk.Now, After: clk.autoAdvance})
	reg := monitoring.NewRegistry()
	m := NewMetricsWithClock(reg, clk.Now)
	p, st := run(t, api, Config{Budget: b, Metrics: m, Now: clk.Now, Start: eventsapi.ResetCursor{Limit: 2}})
	if len(p.events) != 3 || st.Cursor != "c2" {
		t.Fatalf("%d events, state %+v", len(p.events), st)
	}

	snap := snapshot(reg)
	want := map[string]int64{
		"pages":                 2,
		"requests.total":        6, // the unscripted poll that ends the run counts too
		"requests.errors":       3,
		"requests.retries":      3,
		"requests.rate_limited": 1,
		"requests.status.2xx":   2,
		"requests.status.4xx":   1,
		"requests.status.5xx":   1,
		// The reset, and the last poll, cancelled at the end of the run.
		"requests.status.none": 2,
		"requests.status.3xx":  0,
		// The budget's clock moves only while it waits: exactly the
		// Retry-After of the 429.
		"rate_limit.waited_ms":              20,
		"rate_limit.remaining_minute_gauge": 100 - 7, // 6 requests and the introspection
		"requests.introspect":               1,
		"events.published":                  3,
		"events.acked":                      3,
		"events.mapping_errors":             0,
		"breaker.opened":                    0,
		"lag.seconds_gauge":                 0,
		"cursor.age_seconds_gauge":          0,
	}
	for name, v := range want {
		if got := snap.Ints[name]; got != v {
			t.Errorf("%s = %d, want %d", name, got, v)
		}
	}
	if got := snap.Ints["cursor.commits"]; got < 1 {
		t.Errorf("cursor.commits = %d", got)
	}
	// The fake API's events carry the worker's clock as their time, and the
	// budget wait moved it by 20 ms before the last page.
	newest := p.events[2].Timestamp
	if got := snap.Strings["events.newest_time"]; got != newest.UTC().Format(monitoring.TSLayout) {
		t.Errorf("events.newest_time = %q, want %s", got, newest)
	}
	if got := snap.Strings["cursor.last_event_time"]; got != newest.UTC().Format(monitoring.TSLayout) {
		t.Errorf("cursor.last_event_time = %q, want %s", got, newest)
	}
	if got := snap.Strings["breaker.state"]; got != "closed" {
		t.Errorf("breaker.state = %q", got)
	}
	if !snap.Bools["caught_up"] {
		t.Error("caught_up = false after has_more: false")
	}
}

// stopThenAnswer cancels the stream's context, as a stop does, and then
// answers the request: the stop lands between the API's answer and the
// worker looking at it.
type stopThenAnswer struct {
	stop func()
	err  error
}

func (f stopThenAnswer) BaseURL() string { return "http://fake" }

func (f stopThenAnswer) Introspect(context.Context) (*eventsapi.Introspection, error) {
	return &eventsapi.Introspection{UUID: "INTEGRATION", Features: []string{"itemusages"}}, nil
}

func (f stopThenAnswer) Fetch(context.Context, string, eventsapi.Request) (*eventsapi.Page, error) {
	f.stop()
	return nil, f.err
}

// TestRequestFailedAtStopIsCounted: a request the API failed is a failed
// request even when the stream stops before the worker handles the answer
// (a recording of the run holds it as a failure, and its replay counts it);
// a request cut off by the stop itself is not.
func TestRequestFailedAtStopIsCounted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantErrors uint64
	}{
		{"5xx answer", &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}, 1},
		{"body cut off by the server", &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 200, Err: io.ErrUnexpectedEOF}, 1},
		{"not JSON", &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 200, Message: "not JSON"}, 1},
		{"cut off by the stop", &eventsapi.Error{Kind: eventsapi.KindCanceled, Err: context.Canceled}, 0},
		{"plain context error", context.Canceled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := NewMetrics(monitoring.NewRegistry())
			fetcher := stopThenAnswer{stop: cancel, err: tc.err}
			w := New(Config{
				Key: "item_usages", Type: testType, APIVersion: "v2",
				StatePath:  filepath.Join(t.TempDir(), "s.state"),
				NewFetcher: func(string) (Fetcher, error) { return fetcher, nil },
				Metrics:    m, SampleFrequency: time.Second,
				RetryInit: time.Millisecond, RetryMax: time.Millisecond,
			})
			if err := w.Run(ctx, &ackingPipeline{}); err != nil {
				t.Fatal(err)
			}
			if got := m.Requests.Get(); got != 1 {
				t.Fatalf("requests.total = %d, want 1", got)
			}
			if got := m.RequestErrors.Get(); got != tc.wantErrors {
				t.Errorf("requests.errors = %d, want %d", got, tc.wantErrors)
			}
		})
	}
}
