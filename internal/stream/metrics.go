package stream

import (
	"errors"
	"sync"
	"time"

	"github.com/elastic/elastic-agent-libs/monitoring"

	"github.com/eventsapibeat/eventsapibeat/internal/budget"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// Status classes of RequestsByStatus; statusNone counts requests that got no
// HTTP response (connection refused or reset, timeout, cancelled).
const (
	status2xx   = "2xx"
	status3xx   = "3xx"
	status4xx   = "4xx"
	status5xx   = "5xx"
	statusNone  = "none"
	statusOther = "other"
)

// Metrics are a stream's metrics in libbeat's monitoring registry, so they
// show in /stats (http.enabled) and in the periodic metrics log line.
//
// Counters only grow. Values that can go down (lag, cursor age, budget left)
// are computed when the registry is read, so they keep moving while the
// stream is stuck, and their names end in _gauge: libbeat's metrics log line
// prints such values as they are instead of as the change since the last
// line. Times are monitoring.Timestamp strings (UTC, milliseconds; the
// layout's Z is literal, so they are always set in UTC).
type Metrics struct {
	Pages         *monitoring.Uint
	Requests      *monitoring.Uint
	RequestErrors *monitoring.Uint
	// Retries counts failed requests that are repeated (same page again).
	Retries *monitoring.Uint
	// Introspections counts introspect requests: the one at start and
	// those that explain a 401 (once per token).
	Introspections *monitoring.Uint
	// RateLimited counts 429 answers.
	RateLimited *monitoring.Uint
	// RequestsByStatus counts answered requests by HTTP status class
	// ("2xx" … "5xx"), and requests without an answer under "none".
	RequestsByStatus map[string]*monitoring.Uint
	// RateLimitWaitedMS is the time this stream's requests waited for the
	// account's request budget, pauses after a 429 included.
	RateLimitWaitedMS *monitoring.Uint
	BreakerOpened     *monitoring.Uint
	// BreakerState is closed, open or half-open.
	BreakerState    *monitoring.String
	EventsPublished *monitoring.Uint
	EventsAcked     *monitoring.Uint
	MappingErrors   *monitoring.Uint
	Commits         *monitoring.Uint
	CommitErrors    *monitoring.Uint
	// NewestEventTime is the time of the newest event published.
	NewestEventTime *monitoring.Timestamp
	// LastEventTime is the time of the newest committed event.
	LastEventTime *monitoring.Timestamp
	// LastCommit is when the cursor was last written.
	LastCommit *monitoring.Timestamp
	// CaughtUp is true while the newest page said has_more: false.
	CaughtUp *monitoring.Bool

	now func() time.Time

	mu sync.Mutex
	// startedAt is when the stream started; the cursor age counts from it
	// until the first commit.
	startedAt time.Time
	// position is the time up to which the stream has read everything: the
	// fetch time of the newest page that said has_more: false, else the time
	// of the newest event published, else the start of the ResetCursor.
	position time.Time
	// newest is the time of the newest event published (or resumed).
	newest     time.Time
	caughtUp   bool
	lastCommit time.Time
	budget     *budget.Budget
}

// NewMetrics registers a stream's metrics in reg (a fresh, unpublished
// registry when reg is nil, for tests and tools), on the real clock.
func NewMetrics(reg *monitoring.Registry) *Metrics {
	return NewMetricsWithClock(reg, time.Now)
}

// NewMetricsWithClock is NewMetrics with now as the clock of the lag, the
// cursor age and the progress log lines.
func NewMetricsWithClock(reg *monitoring.Registry, now func() time.Time) *Metrics {
	if reg == nil {
		reg = monitoring.NewRegistry()
	}
	if now == nil {
		now = time.Now
	}
	m := &Metrics{
		Pages:             monitoring.NewUint(reg, "pages"),
		Requests:          monitoring.NewUint(reg, "requests.total"),
		RequestErrors:     monitoring.NewUint(reg, "requests.errors"),
		Retries:           monitoring.NewUint(reg, "requests.retries"),
		RateLimited:       monitoring.NewUint(reg, "requests.rate_limited"),
		Introspections:    monitoring.NewUint(reg, "requests.introspect"),
		RequestsByStatus:  map[string]*monitoring.Uint{},
		RateLimitWaitedMS: monitoring.NewUint(reg, "rate_limit.waited_ms"),
		BreakerOpened:     monitoring.NewUint(reg, "breaker.opened"),
		BreakerState:      monitoring.NewString(reg, "breaker.state"),
		EventsPublished:   monitoring.NewUint(reg, "events.published"),
		EventsAcked:       monitoring.NewUint(reg, "events.acked"),
		MappingErrors:     monitoring.NewUint(reg, "events.mapping_errors"),
		NewestEventTime:   monitoring.NewTimestamp(reg, "events.newest_time"),
		Commits:           monitoring.NewUint(reg, "cursor.commits"),
		CommitErrors:      monitoring.NewUint(reg, "cursor.commit_errors"),
		LastEventTime:     monitoring.NewTimestamp(reg, "cursor.last_event_time"),
		LastCommit:        monitoring.NewTimestamp(reg, "cursor.last_commit"),
		CaughtUp:          monitoring.NewBool(reg, "caught_up"),
		now:               now,
		startedAt:         now(),
	}
	for _, class := range []string{status2xx, status3xx, status4xx, status5xx, statusNone, statusOther} {
		m.RequestsByStatus[class] = monitoring.NewUint(reg, "requests.status."+class)
	}
	monitoring.NewFunc(reg, "lag.seconds_gauge", gauge(func() int64 {
		lag, ok := m.Lag()
		if !ok {
			return -1
		}
		return int64(lag / time.Second)
	}))
	monitoring.NewFunc(reg, "cursor.age_seconds_gauge", gauge(func() int64 {
		return int64(m.CursorAge() / time.Second)
	}))
	monitoring.NewFunc(reg, "rate_limit.remaining_minute_gauge", gauge(func() int64 {
		minute, _ := m.BudgetLeft()
		return int64(minute)
	}))
	monitoring.NewFunc(reg, "rate_limit.remaining_hour_gauge", gauge(func() int64 {
		_, hour := m.BudgetLeft()
		return int64(hour)
	}))
	return m
}

// gauge adapts an int function to a registry variable read on demand.
func gauge(f func() int64) func(monitoring.Mode, monitoring.Visitor) {
	return func(_ monitoring.Mode, v monitoring.Visitor) { v.OnInt(f()) }
}

// start records where the stream starts: the resumed state, else the start
// time of the ResetCursor, and the budget whose remainder is reported.
func (m *Metrics) start(resume *state.State, from eventsapi.ResetCursor, b *budget.Budget) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.budget = b
	switch {
	case resume != nil:
		if !resume.LastEventTime.IsZero() {
			m.newest, m.position = resume.LastEventTime, resume.LastEventTime
			m.NewestEventTime.Set(resume.LastEventTime.UTC())
			m.LastEventTime.Set(resume.LastEventTime.UTC())
		}
		if !resume.UpdatedAt.IsZero() {
			m.lastCommit = resume.UpdatedAt
			m.LastCommit.Set(resume.UpdatedAt.UTC())
		}
	case from.StartTime != nil:
		m.position = *from.StartTime
	}
}

// pageFetched counts a page. reachedNow says that with it the stream has
// read everything up to the present: the page of an open-ended cursor that
// says has_more: false. (A backfill that reads time slices in parallel
// passes false until its last slice is done.)
func (m *Metrics) pageFetched(reachedNow bool) {
	m.Pages.Inc()
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.caughtUp = reachedNow
	if reachedNow {
		m.position = now
	} else if !m.newest.IsZero() {
		m.position = m.newest
	}
	m.CaughtUp.Set(reachedNow)
}

// published counts n events handed to the pipeline; newest is the time of
// the newest event published so far.
func (m *Metrics) published(n int, newest time.Time) {
	m.EventsPublished.Add(uint64(n))
	if newest.IsZero() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if newest.After(m.newest) {
		m.newest = newest
		m.NewestEventTime.Set(newest.UTC())
		if !m.caughtUp {
			m.position = newest
		}
	}
}

// requestDone counts a request's outcome by HTTP status class.
func (m *Metrics) requestDone(err error) {
	m.RequestsByStatus[statusClass(err)].Inc()
}

// statusClass is the RequestsByStatus key of a request's outcome.
func statusClass(err error) string {
	if err == nil {
		return status2xx
	}
	var apiErr *eventsapi.Error
	if !errors.As(err, &apiErr) || apiErr.Status == 0 {
		return statusNone
	}
	switch s := apiErr.Status; {
	case s >= 200 && s < 300:
		return status2xx // a 200 with a broken body
	case s >= 300 && s < 400:
		return status3xx
	case s >= 400 && s < 500:
		return status4xx
	case s >= 500 && s < 600:
		return status5xx
	}
	return statusOther
}

// waited adds time spent waiting for the request budget.
func (m *Metrics) waited(d time.Duration) {
	if d > 0 {
		m.RateLimitWaitedMS.Add(uint64(d / time.Millisecond))
	}
}

// committed records a cursor write.
func (m *Metrics) committed(lastEventTime time.Time) {
	m.Commits.Inc()
	now := m.now()
	m.LastCommit.Set(now.UTC())
	if !lastEventTime.IsZero() {
		m.LastEventTime.Set(lastEventTime.UTC())
	}
	m.mu.Lock()
	m.lastCommit = now
	m.mu.Unlock()
}

// Lag is how far behind now the stream is: now minus the time up to which
// it has read every event. false while that time is unknown (a fresh stream
// that has read nothing yet and whose ResetCursor names no start time).
func (m *Metrics) Lag() (time.Duration, bool) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.position.IsZero() {
		return 0, false
	}
	return max(now.Sub(m.position), 0), true
}

// CursorAge is the time since the cursor was last written, or since the
// stream started when it has not been written yet.
func (m *Metrics) CursorAge() time.Duration {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	last := m.lastCommit
	if last.IsZero() {
		last = m.startedAt
	}
	return max(now.Sub(last), 0)
}

// Newest is the time of the newest event published (or resumed); zero when
// none is known.
func (m *Metrics) Newest() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.newest
}

// BudgetLeft is how many more requests the account's budget allows right
// now in the sliding minute and hour: 0 while a 429 pause is in force, -1
// for an unlimited window (or no budget).
func (m *Metrics) BudgetLeft() (minute, hour int) {
	m.mu.Lock()
	b := m.budget
	m.mu.Unlock()
	if b == nil {
		return -1, -1
	}
	s := b.Snapshot()
	left := func(limit, sent int) int {
		switch {
		case limit < 0:
			return -1
		case !s.BlockedUntil.IsZero():
			return 0
		}
		return max(limit-sent, 0)
	}
	return left(s.PerMinute, s.SentLastMinute), left(s.PerHour, s.SentLastHour)
}
