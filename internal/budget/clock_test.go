package budget

import (
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"
)

// fakeClock is a manual clock. Timers made by After fire when Advance moves
// the clock to or past their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	// auto makes After advance the clock by d and fire at once, so that a
	// waiter never blocks on time.
	auto bool
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newFakeClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if c.auto {
		if d > 0 {
			c.now = c.now.Add(d)
		}
		ch <- c.now
		return ch
	}
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// Advance moves the clock by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			continue
		}
		kept = append(kept, t)
	}
	c.timers = kept
}

// Pending returns the number of timers that have not fired.
func (c *fakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// AdvanceToNext moves the clock to the earliest pending deadline and fires
// it. It returns false if no timer is pending.
func (c *fakeClock) AdvanceToNext() bool {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return false
	}
	next := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	d := next.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d)
	return true
}

// waitUntil spins (yielding, never sleeping) until cond holds. It fails the
// test if cond does not hold within a generous wall-clock bound, so a bug
// shows up as a failure rather than a hang.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// checkSliding fails if more than limit of the times fall in any half-open
// interval of length span.
func checkSliding(t *testing.T, times []time.Time, span time.Duration, limit int) {
	t.Helper()
	if limit <= 0 {
		return
	}
	s := append([]time.Time(nil), times...)
	sort.Slice(s, func(i, j int) bool { return s[i].Before(s[j]) })
	for i := 0; i+limit < len(s); i++ {
		if got := s[i+limit].Sub(s[i]); got < span {
			t.Fatalf("%d requests within %v (from %v to %v): limit %d per %v",
				limit+1, got, s[i].Sub(t0), s[i+limit].Sub(t0), limit, span)
		}
	}
}

// greedySchedule returns the earliest send times of n requests all ready at
// t0, under the given limits (<= 0 = unlimited).
func greedySchedule(n, perMinute, perHour int) []time.Time {
	out := make([]time.Time, 0, n)
	for i := 0; i < n; i++ {
		at := t0
		if i > 0 {
			at = out[i-1]
		}
		if perMinute > 0 && i >= perMinute {
			if m := out[i-perMinute].Add(time.Minute); m.After(at) {
				at = m
			}
		}
		if perHour > 0 && i >= perHour {
			if h := out[i-perHour].Add(time.Hour); h.After(at) {
				at = h
			}
		}
		out = append(out, at)
	}
	return out
}
