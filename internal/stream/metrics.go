package stream

import "github.com/elastic/elastic-agent-libs/monitoring"

// Metrics are a stream's counters in libbeat's monitoring registry, so they
// show in /stats (http.enabled) and in the periodic metrics log line.
type Metrics struct {
	Pages         *monitoring.Uint
	Requests      *monitoring.Uint
	RateLimited   *monitoring.Uint
	BreakerOpened *monitoring.Uint
	// BreakerState is closed, open or half-open.
	BreakerState    *monitoring.String
	EventsPublished *monitoring.Uint
	EventsAcked     *monitoring.Uint
	RequestErrors   *monitoring.Uint
	MappingErrors   *monitoring.Uint
	Commits         *monitoring.Uint
	CommitErrors    *monitoring.Uint
	// LastEventTime is the Unix time of the newest committed event.
	LastEventTime *monitoring.Int
}

// NewMetrics registers a stream's metrics in reg (a fresh, unpublished
// registry when reg is nil, for tests and tools).
func NewMetrics(reg *monitoring.Registry) *Metrics {
	if reg == nil {
		reg = monitoring.NewRegistry()
	}
	return &Metrics{
		Pages:           monitoring.NewUint(reg, "pages"),
		Requests:        monitoring.NewUint(reg, "requests.total"),
		RateLimited:     monitoring.NewUint(reg, "requests.rate_limited"),
		BreakerOpened:   monitoring.NewUint(reg, "breaker.opened"),
		BreakerState:    monitoring.NewString(reg, "breaker.state"),
		EventsPublished: monitoring.NewUint(reg, "events.published"),
		EventsAcked:     monitoring.NewUint(reg, "events.acked"),
		RequestErrors:   monitoring.NewUint(reg, "requests.errors"),
		MappingErrors:   monitoring.NewUint(reg, "events.mapping_errors"),
		Commits:         monitoring.NewUint(reg, "cursor.commits"),
		CommitErrors:    monitoring.NewUint(reg, "cursor.commit_errors"),
		LastEventTime:   monitoring.NewInt(reg, "cursor.last_event_time"),
	}
}
