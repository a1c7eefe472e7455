// Package breaker implements a per-stream circuit breaker, modelled on the
// circuit_breaker settings of the Helr collector (failure_threshold,
// success_threshold, half_open_timeout).
//
// A Breaker starts Closed and lets every request through. After
// FailureThreshold consecutive failures it opens and rejects requests for
// OpenTimeout. The first Allow after that moves it to HalfOpen and admits one
// probe request; while the probe is in flight other callers are rejected. A
// failed probe opens the breaker again for a full OpenTimeout; a successful
// one admits the next probe, and SuccessThreshold consecutive successful
// probes close the breaker.
//
// The caller reports the outcome of every admitted request with exactly one
// of Success, Failure or Release. What counts as a failure is the caller's
// choice: for the Events API, transport errors and 5xx responses are
// failures, while 429s (handled by the request budget) and client errors that
// retrying cannot fix are better left out.
//
// A Breaker is safe for concurrent use, starts no goroutines and reads time
// only through Config.Now. The outcome reports carry no request identity, so a
// Breaker is meant for one stream whose requests run one at a time: with
// concurrent requests a late result of a request admitted while Closed can be
// taken for the probe's.
package breaker

import (
	"sync"
	"time"
)

// Defaults used when a Config field is zero or negative.
const (
	DefaultFailureThreshold = 5
	DefaultSuccessThreshold = 2
	DefaultOpenTimeout      = 60 * time.Second

	// maxProbeRetry bounds the retry hint given to callers rejected while a
	// probe is in flight.
	maxProbeRetry = time.Second
)

// State is the state of a Breaker.
type State int

// The states of a Breaker.
const (
	Closed State = iota
	Open
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Config configures a Breaker. The zero value gives the defaults.
type Config struct {
	// FailureThreshold is the number of consecutive failures that open a
	// closed breaker. <= 0 means DefaultFailureThreshold.
	FailureThreshold int
	// SuccessThreshold is the number of consecutive successful probes that
	// close a half-open breaker. <= 0 means DefaultSuccessThreshold.
	SuccessThreshold int
	// OpenTimeout is how long an open breaker rejects requests before it
	// admits a probe (Helr's half_open_timeout). It also bounds how long a
	// probe may stay unreported before another probe is admitted.
	// <= 0 means DefaultOpenTimeout.
	OpenTimeout time.Duration
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
	// OnChange, if set, is called after every state change, outside the
	// Breaker's lock, so it may call State. It runs on the goroutine that
	// caused the change. With concurrent callers, calls for two quick
	// changes may arrive in either order; each reports a real transition.
	OnChange func(from, to State)
}

// Breaker is a circuit breaker. Use [New] to create one.
type Breaker struct {
	failureThreshold int
	successThreshold int
	openTimeout      time.Duration
	now              func() time.Time
	onChange         func(from, to State)

	mu        sync.Mutex
	state     State
	failures  int       // consecutive failures while Closed
	successes int       // consecutive successful probes while HalfOpen
	openedAt  time.Time // when the breaker last opened
	probing   bool      // a HalfOpen probe is in flight
	probeAt   time.Time // when it was admitted
}

// New returns a closed Breaker configured by cfg.
func New(cfg Config) *Breaker {
	b := &Breaker{
		failureThreshold: cfg.FailureThreshold,
		successThreshold: cfg.SuccessThreshold,
		openTimeout:      cfg.OpenTimeout,
		now:              cfg.Now,
		onChange:         cfg.OnChange,
	}
	if b.failureThreshold <= 0 {
		b.failureThreshold = DefaultFailureThreshold
	}
	if b.successThreshold <= 0 {
		b.successThreshold = DefaultSuccessThreshold
	}
	if b.openTimeout <= 0 {
		b.openTimeout = DefaultOpenTimeout
	}
	if b.now == nil {
		b.now = time.Now
	}
	return b
}

// transition is a state change to report after the lock is released.
type transition struct {
	from, to State
	changed  bool
}

func (b *Breaker) notify(t transition) {
	if t.changed && b.onChange != nil {
		b.onChange(t.from, t.to)
	}
}

// setLocked moves the breaker to state to.
func (b *Breaker) setLocked(to State) transition {
	from := b.state
	b.state = to
	b.failures, b.successes, b.probing = 0, 0, false
	if to == Open {
		b.openedAt = b.now()
	}
	return transition{from: from, to: to, changed: from != to}
}

// Allow reports whether a request may be sent now. When it may not, retryIn
// says when to ask again.
//
//   - Closed: always (true, 0).
//   - Open: (false, time left of OpenTimeout). Once OpenTimeout has elapsed,
//     the breaker turns HalfOpen and the caller gets the probe: (true, 0).
//   - HalfOpen: the caller gets the probe if none is in flight. Otherwise
//     (false, hint): the probe's outcome is unknown, so the hint is short
//     (at most 1 s, and no later than the probe counts as lost). A probe
//     that stays unreported for OpenTimeout is taken as lost and another
//     probe is admitted, so a caller that forgets to report cannot wedge
//     the breaker.
func (b *Breaker) Allow() (ok bool, retryIn time.Duration) {
	b.mu.Lock()
	var t transition
	switch b.state {
	case Closed:
		b.mu.Unlock()
		return true, 0
	case Open:
		now := b.now()
		if left := b.openTimeout - now.Sub(b.openedAt); left > 0 {
			b.mu.Unlock()
			return false, left
		}
		t = b.setLocked(HalfOpen)
		b.probing, b.probeAt = true, now
		ok = true
	case HalfOpen:
		now := b.now()
		lost := b.openTimeout - now.Sub(b.probeAt)
		if b.probing && lost > 0 {
			ok, retryIn = false, min(lost, maxProbeRetry)
		} else {
			b.probing, b.probeAt = true, now
			ok = true
		}
	}
	b.mu.Unlock()
	b.notify(t)
	return ok, retryIn
}

// Success reports that an admitted request succeeded.
//
//   - Closed: the consecutive-failure count is reset.
//   - HalfOpen: the probe slot is freed; SuccessThreshold consecutive
//     successes close the breaker.
//   - Open: ignored (a late result of a request admitted before opening).
func (b *Breaker) Success() {
	b.mu.Lock()
	var t transition
	switch b.state {
	case Closed:
		b.failures = 0
	case HalfOpen:
		b.probing = false
		b.successes++
		if b.successes >= b.successThreshold {
			t = b.setLocked(Closed)
		}
	}
	b.mu.Unlock()
	b.notify(t)
}

// Failure reports that an admitted request failed.
//
//   - Closed: FailureThreshold consecutive failures open the breaker.
//   - HalfOpen: the breaker opens again and OpenTimeout restarts.
//   - Open: ignored (a late result of a request admitted before opening); it
//     does not extend OpenTimeout.
func (b *Breaker) Failure() {
	b.mu.Lock()
	var t transition
	switch b.state {
	case Closed:
		b.failures++
		if b.failures >= b.failureThreshold {
			t = b.setLocked(Open)
		}
	case HalfOpen:
		t = b.setLocked(Open)
	}
	b.mu.Unlock()
	b.notify(t)
}

// Release reports that an admitted request ended without an outcome that
// says anything about the server (for example, its context was cancelled at
// shutdown). In HalfOpen it frees the probe slot without counting; otherwise
// it does nothing.
func (b *Breaker) Release() {
	b.mu.Lock()
	if b.state == HalfOpen {
		b.probing = false
	}
	b.mu.Unlock()
}

// State returns the current state. An open breaker whose OpenTimeout has
// elapsed still reports Open until the next Allow turns it HalfOpen.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
