// Package budget paces requests to the 1Password Events API so that the
// streams of one account never exceed the account's rate limits together.
//
// The Events API allows 600 requests per minute and 30,000 requests per hour.
// Whether the limits apply per token or per account is not documented, so the
// beat treats them as shared by every stream that talks to the same account
// (or, when the account is unknown, the same API host). A [Registry] hands out
// one [Budget] per such key, and every stream calls [Budget.Wait] before each
// request.
//
// # Algorithm
//
// A Budget keeps a sliding-window log per limit: a ring holding the send times
// of the last PerMinute (PerHour) requests. A request may be sent at time t
// only if the oldest entry of a full ring is at least 60 s (3600 s) older than
// t. Hence in ANY 60 s interval at most PerMinute requests are sent, and in ANY
// 3600 s interval at most PerHour. This is stronger than what a server with
// fixed windows (aligned to clock minutes and hours) checks, so in steady
// state such a server never sees the budget exceeded. Latency jitter and
// clock skew between client and server can still move a request into the
// neighbouring server window, which is why the beat configures a safety
// margin below the documented limits (580/min and 29,000/h).
//
// Memory is one int64 per allowed request per window: about 240 KB for the
// default hourly limit of 30,000.
//
// Waiters are served in FIFO order: a request that arrives while others are
// queued never overtakes them, so no stream can starve another. Only the head
// of the queue sleeps on a timer; the others wait until they reach the head.
//
// When the server answers 429 anyway (another client shares the account, the
// server clock is skewed, or its limits changed), the caller reports it with
// [Budget.Penalize], which stops every stream of the account until the window
// is expected to reset.
//
// All times come from Config.Now and all sleeping goes through Config.After,
// so tests can drive a Budget with a fake clock. A Budget starts no
// goroutines and is safe for concurrent use.
package budget

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"
)

// Documented Events API limits, used when a Config leaves a limit at zero.
const (
	DefaultPerMinute = 600
	DefaultPerHour   = 30000

	// DefaultMaxPenalty caps the block set by [Budget.Penalize] when
	// Config.MaxPenalty is zero.
	DefaultMaxPenalty = time.Hour

	// minPenalty is the shortest block set by Penalize without a
	// Retry-After value.
	minPenalty = time.Second
)

const (
	minute = int64(time.Minute)
	hour   = int64(time.Hour)
)

// Config configures a Budget. The zero value gives the documented limits and
// the real clock.
type Config struct {
	// PerMinute is the most requests sent in any 60 s interval.
	// 0 means DefaultPerMinute; a negative value means unlimited.
	PerMinute int
	// PerHour is the most requests sent in any 3600 s interval.
	// 0 means DefaultPerHour; a negative value means unlimited.
	PerHour int
	// MaxPenalty caps the block a single Penalize call may impose, so that
	// an absurd Retry-After cannot stall the beat for days. 0 means
	// DefaultMaxPenalty; a negative value means no cap.
	MaxPenalty time.Duration
	// Now returns the current time. nil means time.Now. The Budget only
	// measures durations between values returned by Now, so the monotonic
	// clock reading of time.Now keeps it immune to wall-clock steps.
	Now func() time.Time
	// After returns a channel that receives a value once d has elapsed.
	// nil means time.After (whose timers are garbage collected when no
	// longer referenced, even before they fire, since Go 1.23).
	After func(d time.Duration) <-chan time.Time
}

// Snapshot is a point-in-time view of a Budget, for logs and metrics.
type Snapshot struct {
	// SentLastMinute and SentLastHour count the requests granted in the last
	// 60 s and 3600 s. A window with an unlimited budget is not tracked and
	// reports 0.
	SentLastMinute int
	SentLastHour   int
	// PerMinute and PerHour are the effective limits; -1 means unlimited.
	PerMinute int
	PerHour   int
	// BlockedUntil is the end of the current Penalize block, or the zero
	// time when no block is in force.
	BlockedUntil time.Time
	// Waiting is the number of callers currently blocked in Wait.
	Waiting int
	// Sent is the total number of requests granted by Wait.
	Sent uint64
	// Penalties is the total number of Penalize calls.
	Penalties uint64
	// WaitedTotal is the total time callers spent blocked in Wait,
	// including waits that ended in cancellation.
	WaitedTotal time.Duration
}

// Budget is a request budget shared by the streams of one account.
// Use [New] or [Registry.For] to create one.
type Budget struct {
	now        func() time.Time
	after      func(time.Duration) <-chan time.Time
	epoch      time.Time // times are stored as nanoseconds since epoch
	maxPenalty time.Duration
	perMinute  int // effective limits, -1 = unlimited
	perHour    int

	mu           sync.Mutex
	minute       window
	hour         window
	last         int64 // latest grant; keeps the rings sorted
	blockedUntil int64 // no grants before this (nanoseconds since epoch)
	queue        []*waiter
	sent         uint64
	penalties    uint64
	waited       time.Duration

	// onGrant, when set (by tests), is called under the lock with the time
	// of every grant.
	onGrant func(t time.Time)
}

// waiter is a caller queued in Wait. ready is closed when it becomes the
// head of the queue.
type waiter struct {
	ready chan struct{}
}

// New returns a Budget configured by cfg.
func New(cfg Config) *Budget {
	b := &Budget{
		now:        cfg.Now,
		after:      cfg.After,
		maxPenalty: cfg.MaxPenalty,
		perMinute:  limit(cfg.PerMinute, DefaultPerMinute),
		perHour:    limit(cfg.PerHour, DefaultPerHour),
	}
	if b.now == nil {
		b.now = time.Now
	}
	if b.after == nil {
		b.after = time.After
	}
	if b.maxPenalty == 0 {
		b.maxPenalty = DefaultMaxPenalty
	}
	b.epoch = b.now()
	b.minute = newWindow(minute, b.perMinute)
	b.hour = newWindow(hour, b.perHour)
	return b
}

// limit applies the documented meaning of a configured limit.
func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// clock returns the current time in nanoseconds since b.epoch.
func (b *Budget) clock() int64 { return int64(b.now().Sub(b.epoch)) }

// Wait blocks until one request may be sent and records it as sent. Callers
// are served in arrival order. If ctx ends first, Wait returns ctx.Err() and
// records nothing.
func (b *Budget) Wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	start := b.clock()
	if len(b.queue) == 0 && b.delayLocked(start) <= 0 {
		b.grantLocked(start)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{ready: make(chan struct{})}
	b.queue = append(b.queue, w)
	if len(b.queue) == 1 {
		close(w.ready)
	}
	b.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		return b.abandon(w, start, ctx.Err())
	}
	// w is the head of the queue: it alone waits for the budget. Anything
	// that happens meanwhile (expiring ring entries, Penalize) can only make
	// the budget available later, never earlier, so sleeping for the computed
	// delay and then checking again is exact.
	for {
		if err := ctx.Err(); err != nil {
			return b.abandon(w, start, err)
		}
		b.mu.Lock()
		now := b.clock()
		d := b.delayLocked(now)
		if d <= 0 {
			b.grantLocked(now)
			b.removeLocked(w)
			b.waited += time.Duration(now - start)
			b.mu.Unlock()
			return nil
		}
		b.mu.Unlock()
		select {
		case <-b.after(time.Duration(d)):
		case <-ctx.Done():
			return b.abandon(w, start, ctx.Err())
		}
	}
}

// abandon takes a cancelled waiter out of the queue and returns err.
func (b *Budget) abandon(w *waiter, start int64, err error) error {
	b.mu.Lock()
	b.removeLocked(w)
	if d := b.clock() - start; d > 0 {
		b.waited += time.Duration(d)
	}
	b.mu.Unlock()
	return err
}

// removeLocked takes w out of the queue and, if w was the head, wakes the
// next waiter.
func (b *Budget) removeLocked(w *waiter) {
	for i, q := range b.queue {
		if q != w {
			continue
		}
		copy(b.queue[i:], b.queue[i+1:])
		b.queue[len(b.queue)-1] = nil
		b.queue = b.queue[:len(b.queue)-1]
		if i == 0 && len(b.queue) > 0 {
			// The new head has never been at index 0 before: an element
			// reaches index 0 only by removal of the old head or by being
			// queued into an empty queue, so ready is closed exactly once.
			close(b.queue[0].ready)
		}
		return
	}
}

// delayLocked returns how long after now (nanoseconds since epoch) the next
// request may be sent; <= 0 means now. It is a pure function of the state.
func (b *Budget) delayLocked(now int64) int64 {
	d := b.blockedUntil - now
	d = max(d, b.minute.delay(now), b.hour.delay(now))
	return d
}

// grantLocked records a request sent at now.
func (b *Budget) grantLocked(now int64) {
	// Keep the rings sorted even if a custom clock steps backwards.
	now = max(now, b.last)
	b.last = now
	b.minute.add(now)
	b.hour.add(now)
	b.sent++
	if b.onGrant != nil {
		b.onGrant(b.epoch.Add(time.Duration(now)))
	}
}

// Penalize reports a 429 response: no request of this budget may be sent
// before the block it sets ends. Requests already sent are not affected.
//
// With retryAfter > 0 (a Retry-After header) the block ends at
// now+retryAfter, capped at Config.MaxPenalty.
//
// With retryAfter <= 0 the block ends when the minute window is expected to
// reset: 60 s after the oldest request sent in the last 60 s, i.e.
// now + 60s - (time since that request), and at least 1 s from now. If no
// request was sent in the last 60 s (or the minute is unlimited) the block
// lasts 60 s. A server with clock-aligned windows may reset a little later
// than this estimate; the next 429 then sets a new, later block.
//
// Blocks do not stack: concurrent or repeated penalties keep the latest end
// among them, and a penalty never shortens a block already in force.
func (b *Budget) Penalize(retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	d := retryAfter
	if d <= 0 {
		d = time.Minute
		if oldest, ok := b.minute.oldestWithin(now); ok {
			d = time.Duration(oldest + minute - now)
		}
		d = max(d, minPenalty)
	}
	if b.maxPenalty > 0 {
		d = min(d, b.maxPenalty)
	}
	until := now + int64(d)
	if until < now { // overflow: an uncapped, absurd Retry-After
		until = math.MaxInt64
	}
	b.blockedUntil = max(b.blockedUntil, until)
	b.penalties++
}

// Snapshot returns the current state of the budget.
func (b *Budget) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock()
	s := Snapshot{
		SentLastMinute: b.minute.count(now),
		SentLastHour:   b.hour.count(now),
		PerMinute:      b.perMinute,
		PerHour:        b.perHour,
		Waiting:        len(b.queue),
		Sent:           b.sent,
		Penalties:      b.penalties,
		WaitedTotal:    b.waited,
	}
	if b.blockedUntil > now {
		s.BlockedUntil = b.epoch.Add(time.Duration(b.blockedUntil))
	}
	return s
}

// window is a sliding-window log: a ring of the send times of the last
// len(buf) requests, oldest first. A nil buf means the window is unlimited.
type window struct {
	span  int64
	buf   []int64
	start int // index of the oldest entry
	n     int // number of entries
}

func newWindow(span int64, limit int) window {
	w := window{span: span}
	if limit > 0 {
		w.buf = make([]int64, limit)
	}
	return w
}

// at returns the i-th oldest entry.
func (w *window) at(i int) int64 { return w.buf[(w.start+i)%len(w.buf)] }

// delay returns how long after now another request fits in the window.
func (w *window) delay(now int64) int64 {
	if w.buf == nil || w.n < len(w.buf) {
		return 0 // unlimited or not full
	}
	// The ring is full: the next request must be at least span after the
	// request it pushes out. Never wait longer than span, even if a custom
	// clock stepped backwards.
	return min(w.at(0)+w.span-now, w.span)
}

// add records a request at t, which is not older than any entry.
func (w *window) add(t int64) {
	if w.buf == nil {
		return
	}
	if w.n < len(w.buf) {
		w.buf[(w.start+w.n)%len(w.buf)] = t
		w.n++
		return
	}
	w.buf[w.start] = t
	w.start = (w.start + 1) % len(w.buf)
}

// firstWithin returns the index of the oldest entry sent less than span
// before now (w.n if none).
func (w *window) firstWithin(now int64) int {
	return sort.Search(w.n, func(i int) bool { return now-w.at(i) < w.span })
}

// count returns the number of requests sent less than span before now.
func (w *window) count(now int64) int { return w.n - w.firstWithin(now) }

// oldestWithin returns the oldest request sent less than span before now.
func (w *window) oldestWithin(now int64) (int64, bool) {
	i := w.firstWithin(now)
	if i == w.n {
		return 0, false
	}
	return w.at(i), true
}

// Registry shares one Budget per key: the account UUID of the token, or the
// API host when the account is unknown. Budgets live as long as the Registry.
// It is safe for concurrent use.
type Registry struct {
	cfg     Config
	mu      sync.Mutex
	budgets map[string]*Budget
}

// NewRegistry returns a Registry whose budgets are configured by cfg.
func NewRegistry(cfg Config) *Registry {
	return &Registry{cfg: cfg, budgets: make(map[string]*Budget)}
}

// For returns the Budget for key, creating it on first use. Every call with
// the same key returns the same Budget.
func (r *Registry) For(key string) *Budget {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.budgets[key]
	if !ok {
		b = New(r.cfg)
		r.budgets[key] = b
	}
	return b
}
