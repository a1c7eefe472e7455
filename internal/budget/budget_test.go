package budget

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// newTest returns a Budget on a fake clock.
func newTest(cfg Config) (*Budget, *fakeClock) {
	clk := newFakeClock()
	cfg.Now = clk.Now
	cfg.After = clk.After
	return New(cfg), clk
}

// grantAt records grants at the given offsets from t0 (ascending) by calling
// Wait when the clock reaches each of them; the budget must not be full.
func grantAt(t *testing.T, b *Budget, clk *fakeClock, offsets ...time.Duration) {
	t.Helper()
	for _, off := range offsets {
		clk.Advance(t0.Add(off).Sub(clk.Now()))
		waitNow(t, b)
	}
}

// waitNow calls Wait and fails unless it returns without blocking.
func waitNow(t *testing.T, b *Budget) {
	t.Helper()
	b.mu.Lock()
	free := len(b.queue) == 0 && b.delayLocked(b.clock()) <= 0
	b.mu.Unlock()
	if !free {
		t.Fatalf("budget is full at %v", b.now().Sub(t0))
	}
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDefaults(t *testing.T) {
	cases := []struct {
		in, wantMin, wantHour int
	}{
		{0, DefaultPerMinute, DefaultPerHour},
		{-1, -1, -1},
		{-100, -1, -1},
		{7, 7, 7},
	}
	for _, tc := range cases {
		b := New(Config{PerMinute: tc.in, PerHour: tc.in})
		s := b.Snapshot()
		if s.PerMinute != tc.wantMin || s.PerHour != tc.wantHour {
			t.Errorf("limits %d: got %d/min %d/h, want %d/%d", tc.in, s.PerMinute, s.PerHour, tc.wantMin, tc.wantHour)
		}
	}
	if b := New(Config{}); b.maxPenalty != DefaultMaxPenalty {
		t.Errorf("max penalty %v, want %v", b.maxPenalty, DefaultMaxPenalty)
	}
}

// TestDelay table-tests the pure delay computation behind Wait.
func TestDelay(t *testing.T) {
	s := time.Second
	cases := []struct {
		name               string
		perMinute, perHour int
		grants             []time.Duration // offsets from t0
		blocked            time.Duration   // block end offset, 0 = none
		at                 time.Duration
		want               time.Duration
	}{
		{"empty", 3, 10, nil, 0, 0, 0},
		{"minute not full", 3, 10, []time.Duration{0, s}, 0, 2 * s, 0},
		{"minute full", 3, 10, []time.Duration{0, s, 2 * s}, 0, 2 * s, 58 * s},
		{"minute full, oldest expires exactly now", 3, 10, []time.Duration{0, s, 2 * s}, 0, 60 * s, 0},
		{"minute full, burst at one instant", 3, 10, []time.Duration{0, 0, 0}, 0, 0, 60 * s},
		{"only the request pushed out counts", 2, 10, []time.Duration{0, 30 * s, 40 * s}, 0, 41 * s, 49 * s},
		{"hour full", 100, 3, []time.Duration{0, 10 * s, 20 * s}, 0, 20 * s, 3580 * s},
		{"hour binds over minute", 2, 3, []time.Duration{0, 70 * s, 80 * s}, 0, 80 * s, 3520 * s},
		{"minute binds over hour", 2, 4, []time.Duration{0, 70 * s, 80 * s}, 0, 80 * s, 50 * s},
		{"blocked", 3, 10, nil, 30 * s, 10 * s, 20 * s},
		{"block beyond window", 1, 10, []time.Duration{0}, 90 * s, 10 * s, 80 * s},
		{"window beyond block", 1, 10, []time.Duration{0}, 20 * s, 10 * s, 50 * s},
		{"unlimited", -1, -1, []time.Duration{0, 0, 0, 0}, 0, 0, 0},
		{"unlimited minute, limited hour", -1, 2, []time.Duration{0, 0}, 0, 0, time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTest(Config{PerMinute: tc.perMinute, PerHour: tc.perHour})
			for _, g := range tc.grants {
				b.grantLocked(int64(g))
			}
			b.blockedUntil = int64(tc.blocked)
			got := max(time.Duration(b.delayLocked(int64(tc.at))), 0)
			if got != tc.want {
				t.Errorf("delay at %v = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

// runBurst runs goroutines that each call Wait perG times as fast as they
// can, and drives the fake clock: whenever every live goroutine is queued and
// the head sleeps on a timer, the clock jumps to that timer. It returns the
// time of every grant, read from the clock right after Wait returned (the
// clock cannot move while any goroutine is outside the queue).
func runBurst(t *testing.T, b *Budget, clk *fakeClock, goroutines, perG int) []time.Time {
	t.Helper()
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
		alive atomic.Int64
	)
	alive.Store(int64(goroutines))
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer alive.Add(-1)
			for i := 0; i < perG; i++ {
				if err := b.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
				now := clk.Now()
				mu.Lock()
				times = append(times, now)
				mu.Unlock()
			}
		}()
	}
	for {
		waitUntil(t, "all goroutines parked", func() bool {
			a := alive.Load()
			return a == 0 || (b.Snapshot().Waiting == int(a) && clk.Pending() == 1)
		})
		if alive.Load() == 0 {
			break
		}
		clk.AdvanceToNext()
	}
	wg.Wait()
	return times
}

// TestWaitBurst checks that bursts from several goroutines never exceed
// either sliding window, and that the budget is not more conservative than
// necessary: the grants follow the earliest possible schedule.
func TestWaitBurst(t *testing.T) {
	cases := []struct {
		perMinute, perHour int
		goroutines, perG   int
	}{
		{3, 10, 1, 25},
		{3, 10, 4, 10},
		{5, 12, 3, 20},
		{7, -1, 5, 9},
		{-1, 4, 3, 5},
		{1, 1, 3, 3},
		{60, 200, 3, 150},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%d/min %d/h %dx%d", tc.perMinute, tc.perHour, tc.goroutines, tc.perG)
		t.Run(name, func(t *testing.T) {
			b, clk := newTest(Config{PerMinute: tc.perMinute, PerHour: tc.perHour})
			times := runBurst(t, b, clk, tc.goroutines, tc.perG)
			n := tc.goroutines * tc.perG
			if len(times) != n {
				t.Fatalf("got %d grants, want %d", len(times), n)
			}
			checkSliding(t, times, time.Minute, tc.perMinute)
			checkSliding(t, times, time.Hour, tc.perHour)
			want := greedySchedule(n, tc.perMinute, tc.perHour)
			sortTimes(times)
			for i := range want {
				if !times[i].Equal(want[i]) {
					t.Fatalf("grant %d at %v, want %v", i, times[i].Sub(t0), want[i].Sub(t0))
				}
			}
			s := b.Snapshot()
			if s.Sent != uint64(n) || s.Waiting != 0 {
				t.Errorf("snapshot %+v", s)
			}
		})
	}
}

// TestWaitStress hammers a budget from many goroutines with a clock that
// jumps forward whenever the head of the queue sleeps, and checks every grant.
func TestWaitStress(t *testing.T) {
	const goroutines, perG = 16, 200
	b, clk := newTest(Config{PerMinute: 13, PerHour: 150})
	clk.auto = true
	var times []time.Time
	b.onGrant = func(at time.Time) { times = append(times, at) } // under b.mu
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				if err := b.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(times) != goroutines*perG {
		t.Fatalf("got %d grants, want %d", len(times), goroutines*perG)
	}
	checkSliding(t, times, time.Minute, 13)
	checkSliding(t, times, time.Hour, 150)
}

func sortTimes(s []time.Time) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].Before(s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// startWaiter calls Wait in a goroutine and waits until it is queued.
func startWaiter(t *testing.T, b *Budget, ctx context.Context, queued int) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Wait(ctx) }()
	waitUntil(t, fmt.Sprintf("%d waiters", queued), func() bool { return b.Snapshot().Waiting == queued })
	return done
}

func TestWaitFIFO(t *testing.T) {
	b, clk := newTest(Config{PerMinute: 1, PerHour: -1})
	grantAt(t, b, clk, 0)
	const n = 5
	var (
		mu    sync.Mutex
		order []int
	)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Wait(context.Background()); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}()
		waitUntil(t, "queued", func() bool { return b.Snapshot().Waiting == i+1 })
	}
	for i := 0; i < n; i++ {
		waitUntil(t, "head on timer", func() bool { return clk.Pending() == 1 })
		clk.AdvanceToNext()
		waitUntil(t, "grant", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == i+1
		})
	}
	wg.Wait()
	for i, got := range order {
		if got != i {
			t.Fatalf("grant order %v, want arrival order", order)
		}
	}
}

func TestWaitCancel(t *testing.T) {
	t.Run("already cancelled", func(t *testing.T) {
		b, _ := newTest(Config{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := b.Wait(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if s := b.Snapshot(); s.Sent != 0 || s.SentLastMinute != 0 || s.Waiting != 0 {
			t.Fatalf("cancelled Wait recorded something: %+v", s)
		}
	})

	t.Run("head cancelled, next promoted", func(t *testing.T) {
		b, clk := newTest(Config{PerMinute: 1, PerHour: -1})
		grantAt(t, b, clk, 0)
		ctxA, cancelA := context.WithCancel(context.Background())
		defer cancelA()
		a := startWaiter(t, b, ctxA, 1)
		bDone := startWaiter(t, b, context.Background(), 2)
		clk.Advance(10 * time.Second)
		cancelA()
		if err := <-a; !errors.Is(err, context.Canceled) {
			t.Fatalf("head err = %v", err)
		}
		waitUntil(t, "next head on timer", func() bool { return b.Snapshot().Waiting == 1 && clk.Pending() == 2 })
		if s := b.Snapshot(); s.Sent != 1 {
			t.Fatalf("cancelled head recorded a request: %+v", s)
		}
		clk.Advance(50 * time.Second) // t0+60s
		if err := <-bDone; err != nil {
			t.Fatal(err)
		}
		s := b.Snapshot()
		if s.Sent != 2 || s.SentLastMinute != 1 || s.Waiting != 0 {
			t.Fatalf("snapshot %+v", s)
		}
		// A waited 10 s before cancelling, B 60 s.
		if s.WaitedTotal != 70*time.Second {
			t.Fatalf("WaitedTotal %v, want 70s", s.WaitedTotal)
		}
	})

	t.Run("queued waiter cancelled", func(t *testing.T) {
		b, clk := newTest(Config{PerMinute: 1, PerHour: -1})
		grantAt(t, b, clk, 0)
		a := startWaiter(t, b, context.Background(), 1)
		ctxB, cancelB := context.WithCancel(context.Background())
		defer cancelB()
		bDone := startWaiter(t, b, ctxB, 2)
		c := startWaiter(t, b, context.Background(), 3)
		cancelB()
		if err := <-bDone; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		waitUntil(t, "B dequeued", func() bool { return b.Snapshot().Waiting == 2 })
		clk.AdvanceToNext() // t0+60s: A
		if err := <-a; err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "C on timer", func() bool { return clk.Pending() == 1 })
		select {
		case err := <-c:
			t.Fatalf("C granted early: %v", err)
		default:
		}
		clk.AdvanceToNext() // t0+120s: C
		if err := <-c; err != nil {
			t.Fatal(err)
		}
		if got := clk.Now().Sub(t0); got != 2*time.Minute {
			t.Fatalf("C granted at %v", got)
		}
		if s := b.Snapshot(); s.Sent != 3 {
			t.Fatalf("snapshot %+v", s)
		}
	})

	t.Run("deadline while blocked by penalty", func(t *testing.T) {
		b, clk := newTest(Config{})
		b.Penalize(time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		done := startWaiter(t, b, ctx, 1)
		waitUntil(t, "on timer", func() bool { return clk.Pending() == 1 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if s := b.Snapshot(); s.Sent != 0 || s.Waiting != 0 {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestPenalize(t *testing.T) {
	s := time.Second
	cases := []struct {
		name       string
		perMinute  int
		maxPenalty time.Duration
		grants     []time.Duration // offsets from t0
		now        time.Duration
		before     time.Duration // an earlier Penalize(before) at now; 0 = none
		retryAfter time.Duration
		want       time.Duration // BlockedUntil - now
	}{
		{name: "retry-after", now: 100 * s, retryAfter: 30 * s, want: 30 * s},
		{name: "no retry-after, no recent requests", now: 100 * s, want: 60 * s},
		{name: "no retry-after, negative", now: 100 * s, retryAfter: -5 * s, want: 60 * s},
		{name: "oldest in window 20s ago", grants: []time.Duration{80 * s, 90 * s}, now: 100 * s, want: 40 * s},
		{name: "requests outside the window ignored", grants: []time.Duration{30 * s, 50 * s, 90 * s}, now: 100 * s, want: 10 * s},
		{name: "at least 1s", grants: []time.Duration{40*s + 500*time.Millisecond}, now: 100 * s, want: s},
		{name: "request exactly 60s ago is outside the window", grants: []time.Duration{40 * s, 70 * s}, now: 100 * s, want: 30 * s},
		{name: "unlimited minute", perMinute: -1, grants: []time.Duration{90 * s}, now: 100 * s, want: 60 * s},
		{name: "capped by default max", now: 100 * s, retryAfter: 2 * time.Hour, want: time.Hour},
		{name: "custom max", maxPenalty: 5 * s, now: 100 * s, retryAfter: 30 * s, want: 5 * s},
		{name: "no cap", maxPenalty: -1, now: 100 * s, retryAfter: 2 * time.Hour, want: 2 * time.Hour},
		{name: "no cap, absurd value saturates", maxPenalty: -1, now: 100 * s, retryAfter: math.MaxInt64, want: time.Duration(math.MaxInt64) - 100*s},
		{name: "does not shorten a block", now: 100 * s, before: 30 * s, retryAfter: 10 * s, want: 30 * s},
		{name: "extends a block", now: 100 * s, before: 10 * s, retryAfter: 30 * s, want: 30 * s},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := newTest(Config{PerMinute: tc.perMinute, MaxPenalty: tc.maxPenalty})
			grantAt(t, b, clk, tc.grants...)
			clk.Advance(t0.Add(tc.now).Sub(clk.Now()))
			var wantPenalties uint64 = 1
			if tc.before != 0 {
				b.Penalize(tc.before)
				wantPenalties++
			}
			b.Penalize(tc.retryAfter)
			snap := b.Snapshot()
			if got := snap.BlockedUntil.Sub(clk.Now()); got != tc.want {
				t.Errorf("blocked for %v, want %v", got, tc.want)
			}
			if snap.Penalties != wantPenalties {
				t.Errorf("Penalties = %d, want %d", snap.Penalties, wantPenalties)
			}
			// The block ends exactly when announced.
			clk.Advance(tc.want - time.Nanosecond)
			if b.Snapshot().BlockedUntil.IsZero() {
				t.Errorf("block ended early")
			}
			clk.Advance(time.Nanosecond)
			if bu := b.Snapshot().BlockedUntil; !bu.IsZero() {
				t.Errorf("still blocked until %v", bu)
			}
		})
	}
}

func TestPenalizeConcurrent(t *testing.T) {
	b, clk := newTest(Config{})
	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%5 == 0 {
				b.Penalize(0) // 60 s: nothing was sent
			} else {
				b.Penalize(time.Duration(i) * time.Second)
			}
		}()
	}
	wg.Wait()
	s := b.Snapshot()
	if s.Penalties != n {
		t.Errorf("Penalties = %d, want %d", s.Penalties, n)
	}
	if got := s.BlockedUntil.Sub(clk.Now()); got != 60*time.Second {
		t.Errorf("blocked for %v, want the largest penalty (60s), not a sum", got)
	}
}

// TestPenalizeWhileWaiting checks that Wait honours a block, including one
// set while the head of the queue already sleeps.
func TestPenalizeWhileWaiting(t *testing.T) {
	b, clk := newTest(Config{PerMinute: 2, PerHour: -1})
	grantAt(t, b, clk, 0, 0)
	done := startWaiter(t, b, context.Background(), 1)
	waitUntil(t, "on timer", func() bool { return clk.Pending() == 1 })
	clk.Advance(10 * time.Second)
	b.Penalize(2 * time.Minute) // until t0+130s, later than the window (t0+60s)
	clk.Advance(50 * time.Second)
	// The head wakes at t0+60s, sees the block and sleeps again.
	waitUntil(t, "head re-armed", func() bool { return clk.Pending() == 1 })
	select {
	case err := <-done:
		t.Fatalf("granted during the block: %v", err)
	default:
	}
	clk.AdvanceToNext()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(t0); got != 130*time.Second {
		t.Fatalf("granted at %v, want 130s", got)
	}
	// Without a queue a new Wait passes at once: the block is over.
	waitNow(t, b)
}

func TestSnapshot(t *testing.T) {
	s := time.Second
	b, clk := newTest(Config{PerMinute: 3, PerHour: 5})
	grantAt(t, b, clk, 0, 10*s, 30*s)
	steps := []struct {
		at                time.Duration
		wantMin, wantHour int
		wantBlockedFor    time.Duration // 0 = not blocked
		penalize          time.Duration
		wantPenalties     uint64
		wantSent          uint64
	}{
		{at: 45 * s, wantMin: 3, wantHour: 3, wantSent: 3},
		{at: 60 * s, wantMin: 2, wantHour: 3, wantSent: 3},
		{at: 65 * s, wantMin: 2, wantHour: 3, penalize: 20 * s, wantBlockedFor: 20 * s, wantPenalties: 1, wantSent: 3},
		{at: 80 * s, wantMin: 1, wantHour: 3, wantBlockedFor: 5 * s, wantPenalties: 1, wantSent: 3},
		{at: 85 * s, wantMin: 1, wantHour: 3, wantPenalties: 1, wantSent: 3},
		{at: 3600 * s, wantMin: 0, wantHour: 2, wantPenalties: 1, wantSent: 3},
		{at: 3630 * s, wantMin: 0, wantHour: 0, wantPenalties: 1, wantSent: 3},
	}
	for _, st := range steps {
		clk.Advance(t0.Add(st.at).Sub(clk.Now()))
		if st.penalize != 0 {
			b.Penalize(st.penalize)
		}
		got := b.Snapshot()
		if got.SentLastMinute != st.wantMin || got.SentLastHour != st.wantHour {
			t.Errorf("at %v: sent %d/min %d/h, want %d/%d", st.at, got.SentLastMinute, got.SentLastHour, st.wantMin, st.wantHour)
		}
		if st.wantBlockedFor > 0 {
			if d := got.BlockedUntil.Sub(clk.Now()); d != st.wantBlockedFor {
				t.Errorf("at %v: blocked for %v, want %v", st.at, d, st.wantBlockedFor)
			}
		} else if !got.BlockedUntil.IsZero() {
			t.Errorf("at %v: blocked until %v", st.at, got.BlockedUntil)
		}
		if got.Penalties != st.wantPenalties || got.Sent != st.wantSent || got.PerMinute != 3 || got.PerHour != 5 {
			t.Errorf("at %v: snapshot %+v", st.at, got)
		}
	}

	// Waiting and WaitedTotal.
	grantAt(t, b, clk, 3630*s, 3630*s, 3630*s) // minute full
	done := startWaiter(t, b, context.Background(), 1)
	if got := b.Snapshot(); got.Waiting != 1 {
		t.Fatalf("Waiting = %d, want 1", got.Waiting)
	}
	waitUntil(t, "on timer", func() bool { return clk.Pending() == 1 })
	clk.AdvanceToNext()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := b.Snapshot()
	if got.Waiting != 0 || got.WaitedTotal != time.Minute || got.Sent != 7 || got.SentLastMinute != 1 || got.SentLastHour != 4 {
		t.Fatalf("snapshot %+v", got)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(Config{PerMinute: 5, PerHour: 50})
	const goroutines = 20
	got := make([]*Budget, goroutines)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = r.For("account-A")
		}()
	}
	wg.Wait()
	for i, b := range got {
		if b != got[0] {
			t.Fatalf("For(account-A) call %d returned a different Budget", i)
		}
	}
	other := r.For("events.1password.com")
	if other == got[0] {
		t.Fatal("different keys share a Budget")
	}
	if s := other.Snapshot(); s.PerMinute != 5 || s.PerHour != 50 {
		t.Fatalf("config not applied: %+v", s)
	}
	// Spending one key's budget is seen through every handle of that key
	// and not by other keys.
	if err := r.For("account-A").Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := got[3].Snapshot().SentLastMinute; n != 1 {
		t.Errorf("shared budget sent %d, want 1", n)
	}
	if n := other.Snapshot().SentLastMinute; n != 0 {
		t.Errorf("other budget sent %d, want 0", n)
	}
}

// TestRealClock exercises the default clock and timers once, with a tiny
// penalty so it stays fast.
func TestRealClock(t *testing.T) {
	b := New(Config{PerMinute: -1, PerHour: -1})
	b.Penalize(5 * time.Millisecond)
	start := time.Now()
	if err := b.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 4*time.Millisecond {
		t.Fatalf("Wait returned after %v, during the block", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	b.Penalize(time.Minute)
	if err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// steppingClock advances by step on every reading.
type steppingClock struct {
	ns   atomic.Int64
	step time.Duration
}

func (c *steppingClock) Now() time.Time { return t0.Add(time.Duration(c.ns.Add(int64(c.step)))) }

func BenchmarkWait(b *testing.B) {
	b.Run("limited", func(b *testing.B) {
		// 300 requests per simulated minute: the rings are in use but the
		// budget never blocks.
		clk := &steppingClock{step: 200 * time.Millisecond}
		bud := New(Config{Now: clk.Now})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := bud.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unlimited", func(b *testing.B) {
		bud := New(Config{PerMinute: -1, PerHour: -1})
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if err := bud.Wait(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
