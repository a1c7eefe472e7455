package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/elastic/elastic-agent-libs/logp"
)

// DefaultProgressInterval is how often a stream that is behind logs its
// progress: the period of libbeat's metrics log line.
const DefaultProgressInterval = 30 * time.Second

// progress logs, at a steady interval, how a stream that is behind (a
// backfill, or catching up after an outage) is doing: events so far, the
// time it has reached, the rate and an estimate to catch up. It says
// "caught up" once when the stream is, and is quiet from then on until the
// stream falls behind again. It reads everything from the stream's Metrics,
// whose clock it uses.
type progress struct {
	m   *Metrics
	log *logp.Logger
	// behindAfter is the lag beyond which a stream whose last page said
	// has_more: false still counts as behind (its requests fail).
	behindAfter time.Duration

	last         progressSample
	saidCaughtUp bool
}

// progressSample is what the previous report saw, to compute rates.
type progressSample struct {
	at        time.Time
	published uint64
	lag       time.Duration
	lagKnown  bool
	// waitedMS and errors say why a stream does not gain.
	waitedMS uint64
	errors   uint64
}

func newProgress(m *Metrics, log *logp.Logger, behindAfter time.Duration) *progress {
	p := &progress{m: m, log: log, behindAfter: behindAfter}
	p.last = p.sample()
	return p
}

func (p *progress) sample() progressSample {
	lag, ok := p.m.Lag()
	return progressSample{at: p.m.now(), published: p.m.EventsPublished.Get(), lag: lag, lagKnown: ok,
		waitedMS: p.m.RateLimitWaitedMS.Get(), errors: p.m.RequestErrors.Get()}
}

// run reports at every tick until ctx is done.
func (p *progress) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			p.report()
		}
	}
}

// report logs one progress line, or "caught up" once.
func (p *progress) report() {
	cur := p.sample()
	prev := p.last
	p.last = cur
	if p.m.CaughtUp.Get() && cur.lagKnown && cur.lag <= p.behindAfter {
		if !p.saidCaughtUp {
			p.saidCaughtUp = true
			p.log.Infof("caught up: %d event(s) published since start, %d acknowledged, newest event %s; following new events",
				cur.published, p.m.EventsAcked.Get(), formatTime(p.m.Newest()))
		}
		return
	}
	p.saidCaughtUp = false

	elapsed := cur.at.Sub(prev.at)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(cur.published-prev.published) / elapsed.Seconds()
	}
	behind := "lag unknown"
	if cur.lagKnown {
		behind = humanDuration(cur.lag) + " behind now"
	}
	p.log.Infof("progress: %d event(s) published since start (%.1f/s over the last %s), %d acknowledged; reached %s, %s; %s",
		cur.published, rate, humanDuration(elapsed), p.m.EventsAcked.Get(), formatTime(p.m.Newest()), behind, estimate(prev, cur))
}

// estimate says when the stream will catch up at the pace between two
// samples: the lag shrinks by (prev.lag - cur.lag) per elapsed time.
func estimate(prev, cur progressSample) string {
	elapsed := cur.at.Sub(prev.at)
	if !prev.lagKnown || !cur.lagKnown || elapsed <= 0 {
		return "no estimate yet"
	}
	gained := prev.lag - cur.lag
	if gained <= 0 {
		switch {
		case cur.errors > prev.errors:
			return fmt.Sprintf("not gaining on now: %d request(s) failed in the last %s", cur.errors-prev.errors, humanDuration(elapsed))
		case cur.waitedMS > prev.waitedMS:
			return fmt.Sprintf("not gaining on now: waited %s for the account's request budget (rate_limit)", humanDuration(time.Duration(cur.waitedMS-prev.waitedMS)*time.Millisecond))
		}
		return "not gaining on now: the output may be slow (compare events.published with events.acked)"
	}
	eta := time.Duration(float64(cur.lag) / float64(gained) * float64(elapsed))
	return fmt.Sprintf("about %s to catch up at %.0fx real time", humanDuration(eta), float64(gained+elapsed)/float64(elapsed))
}

// humanDuration is d rounded for a log line: 79d4h, 3h05m, 12m30s, 45s.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return d.Round(time.Second).String()
}

// startProgress runs the stream's progress log until the returned stop is
// called (which waits for it to end).
func (w *Worker) startProgress(ctx context.Context) (stop func()) {
	interval := w.cfg.ProgressInterval
	if interval <= 0 {
		interval = DefaultProgressInterval
	}
	p := newProgress(w.cfg.Metrics, w.log, interval+w.cfg.SampleFrequency)
	ticker := time.NewTicker(interval)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.run(ctx, ticker.C)
	}()
	return func() {
		cancel()
		<-done
		ticker.Stop()
	}
}
