package stream

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/logp/logptest"

	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
)

// observedLogger returns a logger and a function that returns the messages
// it logged at info level, from the from-th entry on, and the entry count.
func observedLogger(t *testing.T) (*logp.Logger, func(from int) []string, func() int) {
	logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
	info := func(from int) []string {
		var out []string
		for _, e := range logs.All()[from:] {
			if e.Level.String() == "info" {
				out = append(out, e.Message)
			}
		}
		return out
	}
	return logger, info, func() int { return logs.Len() }
}

func TestProgressBackfillThenCaughtUpOnce(t *testing.T) {
	clk := newManualClock()
	m := NewMetricsWithClock(nil, clk.Now)
	from := clockStart.Add(-10 * 24 * time.Hour)
	m.start(nil, eventsapi.ResetCursor{StartTime: &from}, nil)
	logger, infoLines, count := observedLogger(t)
	p := newProgress(m, logger, 40*time.Second)

	// 30 s of backfill: 1000 events, one day of history read.
	clk.Advance(30 * time.Second)
	m.pageFetched(false)
	m.published(1000, from.Add(24*time.Hour))
	m.EventsAcked.Add(900)
	p.report()
	lines := infoLines(0)
	if len(lines) != 1 {
		t.Fatalf("want one progress line, got %q", lines)
	}
	// Lag 10d -> 9d00h00m30s in 30 s: 86370 s gained, so the remaining
	// 777630 s take 777630/86370*30 s = 270 s, at (86370+30)/30 = 2880x.
	for _, want := range []string{
		"progress: 1000 event(s) published since start (33.3/s over the last 30s), 900 acknowledged",
		"reached 2026-05-23T12:00:00Z, 9d0h behind now",
		"about 4m30s to catch up at 2880x real time",
	} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("progress line %q lacks %q", lines[0], want)
		}
	}

	// The last page: caught up, said once.
	clk.Advance(30 * time.Second)
	m.pageFetched(true)
	m.published(10, clockStart)
	p.report()
	clk.Advance(30 * time.Second)
	p.report()
	lines = infoLines(1)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "caught up: 1010 event(s) published since start") ||
		!strings.Contains(lines[0], "newest event 2026-06-01T12:00:00Z") {
		t.Fatalf("after the last page: %q, want one caught-up line", lines)
	}

	// The API fails for longer than behindAfter: the stream is behind again
	// and says it is not gaining.
	n := count()
	clk.Advance(30 * time.Second)
	p.report()
	lines = infoLines(n)
	if len(lines) != 1 || !strings.Contains(lines[0], "1m00s behind now") || !strings.Contains(lines[0], "not gaining on now") ||
		!strings.Contains(lines[0], "(0.0/s over the last 30s)") {
		t.Fatalf("while polls fail: %q", lines)
	}
	// It recovers: caught up is said again, once.
	n = count()
	m.pageFetched(true)
	p.report()
	p.report()
	lines = infoLines(n)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "caught up:") {
		t.Fatalf("after recovery: %q", lines)
	}
}

func TestProgressFirstReportWithoutPosition(t *testing.T) {
	clk := newManualClock()
	m := NewMetricsWithClock(nil, clk.Now)
	m.start(nil, eventsapi.ResetCursor{}, nil) // API default start: unknown
	logger, infoLines, _ := observedLogger(t)
	p := newProgress(m, logger, time.Minute)
	clk.Advance(30 * time.Second)
	p.report()
	lines := infoLines(0)
	if len(lines) != 1 || !strings.Contains(lines[0], "reached unknown, lag unknown; no estimate yet") {
		t.Fatalf("first report before any page: %q", lines)
	}
}

func TestProgressRunReportsOnTicksUntilStopped(t *testing.T) {
	clk := newManualClock()
	m := NewMetricsWithClock(nil, clk.Now)
	logger, infoLines, _ := observedLogger(t)
	p := newProgress(m, logger, time.Minute)
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(ctx, ticks)
	}()
	for i := 0; i < 3; i++ {
		clk.Advance(30 * time.Second)
		ticks <- clk.Now() // unbuffered: the previous report is done
	}
	cancel()
	<-done
	if got := len(infoLines(0)); got != 3 {
		t.Fatalf("%d progress lines for 3 ticks", got)
	}
}

func TestEstimate(t *testing.T) {
	at := clockStart
	cases := []struct {
		name      string
		prev, cur progressSample
		want      string
	}{
		{"lag unknown", progressSample{at: at}, progressSample{at: at.Add(time.Minute), lag: time.Hour, lagKnown: true}, "no estimate yet"},
		{"no time passed", progressSample{at: at, lagKnown: true}, progressSample{at: at, lagKnown: true}, "no estimate yet"},
		{"losing ground", progressSample{at: at, lag: time.Hour, lagKnown: true}, progressSample{at: at.Add(time.Minute), lag: time.Hour + time.Minute, lagKnown: true}, "not gaining"},
		{"standing still", progressSample{at: at, lag: time.Hour, lagKnown: true}, progressSample{at: at.Add(time.Minute), lag: time.Hour, lagKnown: true}, "not gaining on now: the output may be slow"},
		{"requests failing", progressSample{at: at, lag: time.Hour, lagKnown: true, errors: 2, waitedMS: 5}, progressSample{at: at.Add(time.Minute), lag: time.Hour + time.Minute, lagKnown: true, errors: 9, waitedMS: 900}, "not gaining on now: 7 request(s) failed in the last 1m00s"},
		{"waiting for the budget", progressSample{at: at, lag: time.Hour, lagKnown: true, waitedMS: 1000}, progressSample{at: at.Add(time.Minute), lag: time.Hour + time.Minute, lagKnown: true, waitedMS: 46000}, "not gaining on now: waited 45s for the account's request budget"},
		// 1 h of lag gone per minute: 10 h left take 10 min, at 61x.
		{"gaining", progressSample{at: at, lag: 11 * time.Hour, lagKnown: true}, progressSample{at: at.Add(time.Minute), lag: 10 * time.Hour, lagKnown: true}, "about 10m00s to catch up at 61x real time"},
	}
	for _, tc := range cases {
		if got := estimate(tc.prev, tc.cur); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: estimate = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	cases := map[time.Duration]string{
		0:                                 "0s",
		1499 * time.Millisecond:           "1s",
		45 * time.Second:                  "45s",
		12*time.Minute + 30*time.Second:   "12m30s",
		3*time.Hour + 5*time.Minute:       "3h05m",
		47*time.Hour + 59*time.Minute:     "47h59m",
		79*24*time.Hour + 4*time.Hour + 1: "79d4h",
	}
	for d, want := range cases {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
