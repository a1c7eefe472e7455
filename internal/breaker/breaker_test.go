package breaker

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// op is one step of a breaker scenario.
type op struct {
	do string // "allow", "success", "failure", "release", "wait"
	d  time.Duration
	// For "allow": the expected result.
	ok    bool
	retry time.Duration
	// want is the state expected after the step.
	want State
}

func allow(ok bool, retry time.Duration, want State) op {
	return op{do: "allow", ok: ok, retry: retry, want: want}
}
func success(want State) op               { return op{do: "success", want: want} }
func failure(want State) op               { return op{do: "failure", want: want} }
func release(want State) op               { return op{do: "release", want: want} }
func wait(d time.Duration, want State) op { return op{do: "wait", d: d, want: want} }

// failN returns n failures: the first n-1 keep the breaker closed, the last
// leaves it in state final.
func failN(n int, final State) []op {
	var ops []op
	for i := 0; i < n-1; i++ {
		ops = append(ops, failure(Closed))
	}
	return append(ops, failure(final))
}

func seq(parts ...any) []op {
	var out []op
	for _, p := range parts {
		switch v := p.(type) {
		case op:
			out = append(out, v)
		case []op:
			out = append(out, v...)
		default:
			panic(fmt.Sprintf("bad part %T", p))
		}
	}
	return out
}

func TestTransitions(t *testing.T) {
	s := time.Second
	cases := []struct {
		name        string
		cfg         Config
		ops         []op
		wantChanges string
	}{
		{
			name:        "closed allows; opens after threshold",
			cfg:         Config{FailureThreshold: 3},
			ops:         seq(allow(true, 0, Closed), failN(3, Open)),
			wantChanges: "closed->open",
		},
		{
			name:        "default threshold is 5",
			ops:         seq(failN(4, Closed), failure(Open)),
			wantChanges: "closed->open",
		},
		{
			name:        "success resets the failure count",
			cfg:         Config{FailureThreshold: 3},
			ops:         seq(failure(Closed), failure(Closed), success(Closed), failure(Closed), failure(Closed), failure(Open)),
			wantChanges: "closed->open",
		},
		{
			name: "open rejects until the timeout",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open),
				allow(false, 30*s, Open),
				wait(10*s, Open), allow(false, 20*s, Open),
				wait(20*s-time.Nanosecond, Open), allow(false, time.Nanosecond, Open),
				wait(time.Nanosecond, Open), // elapsed, but only Allow moves on
				allow(true, 0, HalfOpen)),
			wantChanges: "closed->open,open->half-open",
		},
		{
			name: "default open timeout is 60s",
			cfg:  Config{FailureThreshold: 1},
			ops: seq(failure(Open), allow(false, 60*s, Open),
				wait(60*s, Open), allow(true, 0, HalfOpen)),
			wantChanges: "closed->open,open->half-open",
		},
		{
			name: "half-open admits a single probe",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen),
				allow(false, s, HalfOpen),
				allow(false, s, HalfOpen),
				wait(29500*time.Millisecond, HalfOpen),
				allow(false, 500*time.Millisecond, HalfOpen)),
			wantChanges: "closed->open,open->half-open",
		},
		{
			name: "probe successes close (default threshold 2)",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), success(HalfOpen),
				allow(true, 0, HalfOpen), allow(false, s, HalfOpen), success(Closed),
				allow(true, 0, Closed), allow(true, 0, Closed)),
			wantChanges: "closed->open,open->half-open,half-open->closed",
		},
		{
			name: "success threshold 1",
			cfg:  Config{FailureThreshold: 1, SuccessThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), success(Closed)),
			wantChanges: "closed->open,open->half-open,half-open->closed",
		},
		{
			name: "probe failure reopens and restarts the timer",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), wait(5*s, HalfOpen), failure(Open),
				allow(false, 30*s, Open), wait(29*s, Open), allow(false, s, Open),
				wait(s, Open), allow(true, 0, HalfOpen)),
			wantChanges: "closed->open,open->half-open,half-open->open,open->half-open",
		},
		{
			name: "failure after a successful probe reopens and resets the success count",
			cfg:  Config{FailureThreshold: 1, SuccessThreshold: 2, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), success(HalfOpen),
				allow(true, 0, HalfOpen), failure(Open),
				wait(30*s, Open), allow(true, 0, HalfOpen), success(HalfOpen),
				allow(true, 0, HalfOpen), success(Closed)),
			wantChanges: "closed->open,open->half-open,half-open->open,open->half-open,half-open->closed",
		},
		{
			name: "closed again needs the full failure threshold",
			cfg:  Config{FailureThreshold: 2, SuccessThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failN(2, Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), success(Closed),
				failure(Closed), failure(Open)),
			wantChanges: "closed->open,open->half-open,half-open->closed,closed->open",
		},
		{
			name: "late results while open are ignored",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(20*s, Open),
				success(Open), failure(Open), // does not extend the timeout
				allow(false, 10*s, Open)),
			wantChanges: "closed->open",
		},
		{
			name: "release frees the probe slot without counting",
			cfg:  Config{FailureThreshold: 1, SuccessThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), allow(false, s, HalfOpen),
				release(HalfOpen), allow(true, 0, HalfOpen), success(Closed),
				release(Closed), allow(true, 0, Closed)),
			wantChanges: "closed->open,open->half-open,half-open->closed",
		},
		{
			name: "an unreported probe is taken as lost after the open timeout",
			cfg:  Config{FailureThreshold: 1, OpenTimeout: 30 * s},
			ops: seq(failure(Open), wait(30*s, Open),
				allow(true, 0, HalfOpen), wait(30*s-time.Nanosecond, HalfOpen),
				allow(false, time.Nanosecond, HalfOpen), wait(time.Nanosecond, HalfOpen),
				allow(true, 0, HalfOpen), allow(false, s, HalfOpen)),
			wantChanges: "closed->open,open->half-open",
		},
		{
			name: "negative config uses defaults",
			cfg:  Config{FailureThreshold: -1, SuccessThreshold: -1, OpenTimeout: -time.Second},
			ops: seq(failN(5, Open), allow(false, 60*s, Open), wait(60*s, Open),
				allow(true, 0, HalfOpen), success(HalfOpen), allow(true, 0, HalfOpen), success(Closed)),
			wantChanges: "closed->open,open->half-open,half-open->closed",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
			var changes []string
			cfg := tc.cfg
			cfg.Now = clk.Now
			var b *Breaker
			cfg.OnChange = func(from, to State) {
				// Called outside the lock: State must not deadlock and must
				// already report the new state.
				if got := b.State(); got != to {
					t.Errorf("OnChange(%v, %v): State() = %v", from, to, got)
				}
				changes = append(changes, from.String()+"->"+to.String())
			}
			b = New(cfg)
			if got := b.State(); got != Closed {
				t.Fatalf("new breaker is %v", got)
			}
			for i, o := range tc.ops {
				switch o.do {
				case "allow":
					ok, retry := b.Allow()
					if ok != o.ok || retry != o.retry {
						t.Fatalf("step %d: Allow() = %v, %v; want %v, %v", i, ok, retry, o.ok, o.retry)
					}
				case "success":
					b.Success()
				case "failure":
					b.Failure()
				case "release":
					b.Release()
				case "wait":
					clk.Advance(o.d)
				}
				if got := b.State(); got != o.want {
					t.Fatalf("step %d (%s): state %v, want %v", i, o.do, got, o.want)
				}
			}
			if got := strings.Join(changes, ","); got != tc.wantChanges {
				t.Errorf("changes %q, want %q", got, tc.wantChanges)
			}
		})
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Closed: "closed", Open: "open", HalfOpen: "half-open", State(42): "unknown"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
}

// TestConcurrentProbe checks that of many goroutines racing on a breaker
// whose open timeout has elapsed exactly one gets the probe.
func TestConcurrentProbe(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	var transitions atomic.Int64
	b := New(Config{FailureThreshold: 1, Now: clk.Now, OnChange: func(from, to State) { transitions.Add(1) }})
	b.Failure()
	clk.Advance(time.Minute)
	const n = 64
	var (
		admitted atomic.Int64
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if ok, _ := b.Allow(); ok {
				admitted.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := admitted.Load(); got != 1 {
		t.Fatalf("%d probes admitted, want 1", got)
	}
	if got := transitions.Load(); got != 2 { // closed->open, open->half-open
		t.Fatalf("%d transitions, want 2", got)
	}
	if got := b.State(); got != HalfOpen {
		t.Fatalf("state %v", got)
	}
}

// TestConcurrentUse runs every method from several goroutines for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	clk := &fakeClock{now: time.Unix(0, 0)}
	b := New(Config{FailureThreshold: 2, SuccessThreshold: 2, OpenTimeout: time.Second, Now: clk.Now,
		OnChange: func(from, to State) {
			if from == to {
				t.Errorf("OnChange(%v, %v): not a change", from, to)
			}
		}})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if ok, _ := b.Allow(); ok {
					switch (g + i) % 4 {
					case 0, 1:
						b.Success()
					case 2:
						b.Failure()
					case 3:
						b.Release()
					}
				}
				if i%50 == 0 {
					clk.Advance(300 * time.Millisecond)
				}
				_ = b.State()
			}
		}()
	}
	wg.Wait()
}

func BenchmarkAllow(b *testing.B) {
	b.Run("closed", func(b *testing.B) {
		br := New(Config{})
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := br.Allow(); !ok {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("open", func(b *testing.B) {
		br := New(Config{FailureThreshold: 1, OpenTimeout: time.Hour})
		br.Failure()
		b.ReportAllocs()
		for b.Loop() {
			if ok, _ := br.Allow(); ok {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("closed-parallel", func(b *testing.B) {
		br := New(Config{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				br.Allow()
			}
		})
	})
}
