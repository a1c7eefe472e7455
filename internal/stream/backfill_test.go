package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/elastic-agent-libs/mapstr"

	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module"
)

// timedType maps {"uuid": "...", "timestamp": "..."} items.
var timedType = module.Type{
	Name: "itemusages", ConfigKey: "item_usages", Dataset: "1password.item_usages",
	Map: func(item []byte, opts module.MapOptions) (beat.Event, error) {
		var v struct {
			UUID      string    `json:"uuid"`
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(item, &v); err != nil {
			return beat.Event{}, fmt.Errorf("not a JSON object")
		}
		return beat.Event{
			Timestamp: v.Timestamp,
			Meta:      mapstr.M{"_id": "itemusages-" + v.UUID, "event_type": "itemusages"},
			Fields:    mapstr.M{"event": mapstr.M{"id": v.UUID}},
		}, nil
	},
}

type timedEvent struct {
	uuid string
	ts   time.Time
}

// timelineAPI serves a fixed list of events (ascending timestamps) with
// ResetCursor time windows, as the Events API does. Its cursor is
// "pos/end/limit". The start bound is inclusive; the end bound is inclusive
// unless endExclusive, the two readings of the undocumented end_time.
type timelineAPI struct {
	events       []timedEvent
	endExclusive bool
	// ignoreEnd makes a cursor ignore its end_time after the first page.
	ignoreEnd bool
	pageSize  int

	mu       sync.Mutex
	requests int
	empty    int            // pages answered without items
	served   map[string]int // uuid → times served
	// onFetch, when set, runs (without the lock) before each answer;
	// onAnswer after it, with the number of items.
	onFetch  func()
	onAnswer func(items int)
	// failAfter, when > 0, makes every request after that many answer a
	// transient error (the API "goes away").
	failAfter int
}

func (a *timelineAPI) fetcher(string) (Fetcher, error) { return timelineFetcher{a}, nil }

type timelineFetcher struct{ a *timelineAPI }

func (f timelineFetcher) BaseURL() string { return "http://timeline" }
func (f timelineFetcher) Introspect(context.Context) (*eventsapi.Introspection, error) {
	return &eventsapi.Introspection{UUID: "INTEGRATION", Features: []string{"itemusages"}}, nil
}

const noEnd = int64(1<<63 - 1)

func (f timelineFetcher) Fetch(ctx context.Context, _ string, req eventsapi.Request) (*eventsapi.Page, error) {
	a := f.a
	if a.onFetch != nil {
		a.onFetch()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	if a.failAfter > 0 && a.requests > a.failAfter {
		return nil, &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}
	}
	var pos int
	end, limit := noEnd, req.Reset.Limit
	if req.Cursor != "" {
		parts := strings.Split(req.Cursor, "/")
		pos, _ = strconv.Atoi(parts[0])
		end, _ = strconv.ParseInt(parts[1], 10, 64)
		limit, _ = strconv.Atoi(parts[2])
		if a.ignoreEnd {
			end = noEnd
		}
	} else {
		if req.Reset.EndTime != nil {
			end = req.Reset.EndTime.UnixNano()
		}
		start := *req.Reset.StartTime
		pos = sort.Search(len(a.events), func(i int) bool { return !a.events[i].ts.Before(start) })
	}
	if a.pageSize > 0 {
		limit = a.pageSize
	}
	p := &eventsapi.Page{}
	i := pos
	for ; i < len(a.events) && len(p.Items) < limit; i++ {
		ts := a.events[i].ts.UnixNano()
		if ts > end || (a.endExclusive && ts == end) {
			break
		}
		if a.served == nil {
			a.served = map[string]int{}
		}
		a.served[a.events[i].uuid]++
		p.Items = append(p.Items, json.RawMessage(fmt.Sprintf(`{"uuid":%q,"timestamp":%q}`, a.events[i].uuid, a.events[i].ts.Format(time.RFC3339Nano))))
	}
	p.HasMore = i < len(a.events) && (a.events[i].ts.UnixNano() < end || (!a.endExclusive && a.events[i].ts.UnixNano() == end))
	p.Cursor = fmt.Sprintf("%d/%d/%d", i, end, limit)
	if a.onAnswer != nil {
		a.onAnswer(len(p.Items))
	}
	return p, nil
}

// timeline makes n events from start, one every step, plus extra events at
// the given times; sorted by time.
func timeline(start time.Time, n int, step time.Duration, extra ...time.Time) []timedEvent {
	var evs []timedEvent
	for i := range n {
		evs = append(evs, timedEvent{uuid: fmt.Sprintf("E%05d", i), ts: start.Add(time.Duration(i) * step)})
	}
	for i, t := range extra {
		evs = append(evs, timedEvent{uuid: fmt.Sprintf("X%05d", i), ts: t})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].ts.Before(evs[j].ts) })
	return evs
}

// backfillConfig is a worker configuration for a timeline API whose clock
// reads now.
func backfillConfig(t *testing.T, api *timelineAPI, now time.Time, slices int) Config {
	t.Helper()
	start := now.Add(-48 * time.Hour)
	return Config{
		Key: "item_usages", Type: timedType, NewFetcher: api.fetcher, APIVersion: "v2",
		StatePath:       filepath.Join(t.TempDir(), "s.state"),
		Start:           eventsapi.ResetCursor{Limit: 50, StartTime: &start},
		SampleFrequency: time.Hour,
		RetryInit:       time.Millisecond, RetryMax: 2 * time.Millisecond,
		Now:      func() time.Time { return now },
		Backfill: BackfillConfig{Slices: slices, MinWindow: time.Hour},
	}
}

// runUntil runs a worker until cond holds for the pipeline, then stops it
// and returns the saved state (zero when there is none).
func runUntil(t *testing.T, cfg Config, p beat.PipelineConnector, cond func() bool) (state.State, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Run(ctx, p) }()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("timed out waiting for the worker")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return state.Load(cfg.StatePath)
}

func TestSplitWindow(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 123, time.UTC)
	for _, tc := range []struct {
		name   string
		to     time.Time
		n      int
		minDur time.Duration
		want   int
	}{
		{"even split", from.Add(64 * time.Hour), 64, time.Minute, 64},
		{"limited by the minimum slice", from.Add(10 * time.Minute), 64, time.Minute, 10},
		{"shorter than one minimum slice", from.Add(30 * time.Second), 8, time.Minute, 1},
		{"one slice", from.Add(time.Hour), 1, time.Minute, 1},
		{"empty window", from, 8, time.Minute, 0},
		{"reversed window", from.Add(-time.Hour), 8, time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := splitWindow(from, tc.to, tc.n, tc.minDur)
			if len(got) != tc.want {
				t.Fatalf("%d slices, want %d: %v", len(got), tc.want, got)
			}
			if len(got) == 0 {
				return
			}
			if !got[0].Start.Equal(from) || !got[len(got)-1].End.Equal(tc.to) {
				t.Fatalf("slices cover [%s, %s], want [%s, %s]", got[0].Start, got[len(got)-1].End, from, tc.to)
			}
			for i, s := range got {
				if !s.End.After(s.Start) {
					t.Fatalf("slice %d is empty: %v", i, s)
				}
				if i > 0 {
					if !s.Start.Equal(got[i-1].End) {
						t.Fatalf("slice %d starts at %s, the previous ends at %s", i, s.Start, got[i-1].End)
					}
					if s.Start.Nanosecond() != 0 {
						t.Fatalf("inner boundary %s is not a whole second", s.Start)
					}
				}
			}
		})
	}
}

func TestPlanBackfill(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	ago := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	for _, tc := range []struct {
		name   string
		start  eventsapi.ResetCursor
		resume *state.State
		slices int
		// wantFrom is the planned start; zero means no backfill.
		wantFrom time.Time
		resumed  bool
	}{
		{name: "no state, far behind", start: eventsapi.ResetCursor{StartTime: ago(48 * time.Hour)}, slices: 4, wantFrom: *ago(48 * time.Hour)},
		{name: "no state, within min_window", start: eventsapi.ResetCursor{StartTime: ago(30 * time.Minute)}, slices: 4},
		{name: "parallel_slices 1", start: eventsapi.ResetCursor{StartTime: ago(48 * time.Hour)}, slices: 1},
		{name: "no start_time", start: eventsapi.ResetCursor{Limit: 1000}, slices: 4},
		{name: "bounded starting_cursor", start: eventsapi.ResetCursor{StartTime: ago(48 * time.Hour), EndTime: ago(time.Hour)}, slices: 4},
		{name: "older than the API keeps", start: eventsapi.ResetCursor{StartTime: ago(400 * 24 * time.Hour)}, slices: 4, wantFrom: *ago(apiDataWindow)},
		{name: "saved cursor far behind", resume: &state.State{Format: state.Format, Cursor: "c", LastEventTime: *ago(72 * time.Hour)}, slices: 4, wantFrom: *ago(72 * time.Hour)},
		{name: "saved cursor recent", resume: &state.State{Format: state.Format, Cursor: "c", LastEventTime: *ago(time.Minute)}, slices: 4},
		{name: "2.x cursor", resume: &state.State{Cursor: "c", LastEventTime: *ago(72 * time.Hour)}, slices: 4},
		{name: "saved cursor without event time", resume: &state.State{Format: state.Format, Cursor: "c"}, slices: 4},
		{
			name: "backfill in progress, even with parallel_slices 1",
			resume: &state.State{Format: state.Format, Cursor: "", Backfill: &state.Backfill{TailStart: *ago(time.Hour), Pending: []state.Slice{
				{Start: *ago(10 * time.Hour), End: *ago(9 * time.Hour), Cursor: "x"},
			}}},
			slices: 1, wantFrom: *ago(10 * time.Hour), resumed: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(Config{Start: tc.start, Resume: tc.resume, Backfill: BackfillConfig{Slices: tc.slices, MinWindow: time.Hour}, Now: func() time.Time { return now }})
			plan := w.planBackfill(now)
			if tc.wantFrom.IsZero() {
				if plan != nil {
					t.Fatalf("planned a backfill: %+v", plan)
				}
				return
			}
			if plan == nil {
				t.Fatal("no backfill planned")
			}
			if plan.resumed != tc.resumed {
				t.Fatalf("resumed = %v", plan.resumed)
			}
			if !plan.slices[0].Start.Equal(tc.wantFrom) {
				t.Fatalf("first slice starts at %s, want %s", plan.slices[0].Start, tc.wantFrom)
			}
			if tc.resumed {
				if plan.tailStart != tc.resume.Backfill.TailStart || plan.tailCursor != tc.resume.Cursor || len(plan.slices) != 1 || plan.slices[0].Cursor != "x" {
					t.Fatalf("resumed plan %+v does not continue the state %+v", plan, tc.resume.Backfill)
				}
				return
			}
			handover := now.Truncate(time.Second)
			if last := plan.slices[len(plan.slices)-1].End; !last.Equal(handover) {
				t.Fatalf("slices end at %s, want the handover %s", last, handover)
			}
			if !plan.tailStart.Equal(handover.Add(-handoverOverlap)) {
				t.Fatalf("tail starts at %s, want %s", plan.tailStart, handover.Add(-handoverOverlap))
			}
			if len(plan.slices) != tc.slices*slicesPerChain {
				t.Fatalf("%d slices, want %d", len(plan.slices), tc.slices*slicesPerChain)
			}
		})
	}
}

// collectingPipeline acknowledges the first ackLimit events (all when
// negative) and records every published event.
type collectingPipeline struct {
	mu       sync.Mutex
	events   []beat.Event
	ackLimit int
	acked    int
	// delay slows every PublishAll down (a slow output).
	delay time.Duration
	// onPublished, when set, runs when a PublishAll returns.
	onPublished func()
}

func (p *collectingPipeline) Connect() (beat.Client, error) {
	return nil, errors.New("use ConnectWith")
}
func (p *collectingPipeline) ConnectWith(cfg beat.ClientConfig) (beat.Client, error) {
	return &collectingClient{p: p, listener: cfg.EventListener}, nil
}

type collectingClient struct {
	p        *collectingPipeline
	listener beat.EventListener
}

func (c *collectingClient) Publish(e beat.Event) { c.PublishAll([]beat.Event{e}) }
func (c *collectingClient) PublishAll(events []beat.Event) {
	if c.p.delay > 0 {
		time.Sleep(c.p.delay) // the output's own pace
	}
	for _, e := range events {
		c.listener.AddEvent(e, true)
	}
	c.p.mu.Lock()
	c.p.events = append(c.p.events, events...)
	n := len(events)
	if c.p.ackLimit >= 0 {
		n = max(0, min(n, c.p.ackLimit-c.p.acked))
	}
	c.p.acked += n
	c.p.mu.Unlock()
	if n > 0 {
		c.listener.ACKEvents(n)
	}
	if c.p.onPublished != nil {
		c.p.onPublished()
	}
}
func (c *collectingClient) Close() error { c.listener.ClientClosed(); return nil }

func (p *collectingPipeline) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, e := range p.events {
		out[strings.TrimPrefix(e.Meta["_id"].(string), "itemusages-")]++
	}
	return out
}

func (p *collectingPipeline) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// TestBackfillDeliversEveryEventOnce backfills 48 hours in parallel slices,
// with events exactly on slice boundaries and in the handover overlap, for
// both readings of end_time: every event is published exactly once, and the
// final state is the tail chain's cursor alone.
func TestBackfillDeliversEveryEventOnce(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, endExclusive := range []bool{false, true} {
		t.Run(fmt.Sprintf("end exclusive %v", endExclusive), func(t *testing.T) {
			api := &timelineAPI{endExclusive: endExclusive}
			cfg := backfillConfig(t, api, now, 3)
			plan := New(cfg).planBackfill(now)
			// Events on every inner boundary, on the handover point, in
			// the overlap before it, and after it (live).
			var extra []time.Time
			for _, s := range plan.slices[1:] {
				extra = append(extra, s.Start)
			}
			handover := plan.slices[len(plan.slices)-1].End
			extra = append(extra, handover, handover.Add(-time.Second), plan.tailStart, handover.Add(time.Nanosecond))
			api.events = timeline(now.Add(-47*time.Hour), 2000, 84*time.Second, extra...)

			p := &collectingPipeline{ackLimit: -1}
			st, err := runUntil(t, cfg, p, func() bool {
				st, err := state.Load(cfg.StatePath)
				return err == nil && st.Backfill == nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := p.counts()
			for _, ev := range api.events {
				if got[ev.uuid] != 1 {
					t.Errorf("event %s at %s published %d times", ev.uuid, ev.ts.Format(time.RFC3339Nano), got[ev.uuid])
				}
			}
			if len(got) != len(api.events) {
				t.Errorf("published %d distinct events, the API has %d", len(got), len(api.events))
			}
			if st.Cursor == "" || st.Backfill != nil {
				t.Fatalf("final state %+v, want the tail cursor alone", st)
			}
			if last := api.events[len(api.events)-1].ts; !st.LastEventTime.Equal(last) {
				t.Fatalf("last_event_time %s, want %s", st.LastEventTime, last)
			}
			if !endExclusive {
				// Events on inner boundaries were served twice and
				// published once.
				twice := 0
				for _, n := range api.served {
					if n > 1 {
						twice++
					}
				}
				if twice == 0 {
					t.Fatal("no event was served by two slices; the seam test tests nothing")
				}
			}
		})
	}
}

// TestBackfillRestartMidway stops a backfill whose output acknowledged only
// part of what it received (a crash), and restarts from the state file:
// every event is delivered, and the second run re-reads nothing from the
// slices the first one completed.
func TestBackfillRestartMidway(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	api := &timelineAPI{}
	api.events = timeline(now.Add(-47*time.Hour), 3000, 56*time.Second)
	cfg := backfillConfig(t, api, now, 3)

	// Run 1: the output acknowledges 1234 events, then nothing more.
	p1 := &collectingPipeline{ackLimit: 1234}
	st, err := runUntil(t, cfg, p1, func() bool {
		st, err := state.Load(cfg.StatePath)
		return p1.total() >= 1500 && err == nil && st.LastEventTime.After(now.Add(-47*time.Hour))
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Backfill == nil || len(st.Backfill.Pending) == 0 {
		t.Fatalf("state after a partial run %+v has no pending backfill", st)
	}
	acked1 := map[string]bool{}
	p1.mu.Lock()
	for _, e := range p1.events[:p1.acked] {
		acked1[strings.TrimPrefix(e.Meta["_id"].(string), "itemusages-")] = true
	}
	p1.mu.Unlock()

	// Run 2 resumes from the file.
	resume := st
	cfg.Resume = &resume
	p2 := &collectingPipeline{ackLimit: -1}
	final, err := runUntil(t, cfg, p2, func() bool {
		st, err := state.Load(cfg.StatePath)
		return err == nil && st.Backfill == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got2 := p2.counts()
	for _, ev := range api.events {
		if !acked1[ev.uuid] && got2[ev.uuid] == 0 {
			t.Errorf("event %s at %s was never acknowledged", ev.uuid, ev.ts.Format(time.RFC3339Nano))
		}
		if got2[ev.uuid] > 1 {
			t.Errorf("event %s published %d times in one run", ev.uuid, got2[ev.uuid])
		}
	}
	// Re-sent events all lie in slices the state still listed as pending.
	for _, ev := range api.events {
		if !acked1[ev.uuid] || got2[ev.uuid] == 0 {
			continue
		}
		inPending := !ev.ts.Before(st.Backfill.TailStart)
		for _, s := range st.Backfill.Pending {
			inPending = inPending || (!ev.ts.Before(s.Start) && !ev.ts.After(s.End))
		}
		if !inPending {
			t.Errorf("event %s at %s, from a completed slice, was sent again", ev.uuid, ev.ts.Format(time.RFC3339Nano))
		}
	}
	if final.Backfill != nil || final.Cursor == "" {
		t.Fatalf("final state %+v, want the tail cursor alone", final)
	}
}

// TestBackfillSlowOutput: with outputs slower than the API, the chains wait
// for page slots, so the pages held in memory (fetched and not yet handed to
// the output) never exceed the page pool, for one stream and for several
// streams sharing a pool (the streams of one account).
func TestBackfillSlowOutput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		streams int
		pool    int
	}{
		{"one stream, its own pool", 1, 0},
		{"three streams sharing 2 pages", 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			const slices = 3
			var pool *PagePool
			limit := slices
			if tc.pool > 0 {
				pool, limit = NewPagePool(tc.pool), tc.pool
			}
			// pages held = answered − handed to an output − answered empty
			// (an empty page is released without reaching the output),
			// over every stream. It may lag behind the slots actually
			// taken, never run ahead of them.
			var mu sync.Mutex
			var answered, handed, empty, maxHeld int
			var wg sync.WaitGroup
			for range tc.streams {
				api := &timelineAPI{}
				api.events = timeline(now.Add(-47*time.Hour), 1500, 112*time.Second)
				cfg := backfillConfig(t, api, now, slices)
				cfg.Backfill.Pages = pool
				p := &collectingPipeline{ackLimit: -1, delay: 2 * time.Millisecond}
				p.onPublished = func() { mu.Lock(); handed++; mu.Unlock() }
				api.onFetch = func() {
					mu.Lock()
					maxHeld = max(maxHeld, answered-handed-empty)
					mu.Unlock()
				}
				api.onAnswer = func(items int) {
					mu.Lock()
					answered++
					if items == 0 {
						empty++
					}
					mu.Unlock()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, err := runUntil(t, cfg, p, func() bool {
						st, err := state.Load(cfg.StatePath)
						return err == nil && st.Backfill == nil
					}); err != nil {
						t.Error(err)
					}
					if n := len(p.counts()); n != len(api.events) {
						t.Errorf("published %d events, want %d", n, len(api.events))
					}
				}()
			}
			wg.Wait()
			// The request being sent holds a slot too.
			if maxHeld+1 > limit {
				t.Fatalf("%d pages were held in memory while another was fetched, more than the %d slots", maxHeld, limit)
			}
			if maxHeld < 1 {
				t.Fatal("no page was ever waiting for the slow output; the test tests nothing")
			}
		})
	}
}

// TestBackfillAPIIgnoresEndTime: should the API not bound a cursor by its
// end_time, each slice ends at the first page entirely past its end, so
// every event still arrives, and few more than once.
func TestBackfillAPIIgnoresEndTime(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	api := &timelineAPI{ignoreEnd: true, pageSize: 20}
	api.events = timeline(now.Add(-47*time.Hour), 3000, 56*time.Second)
	cfg := backfillConfig(t, api, now, 3)
	p := &collectingPipeline{ackLimit: -1}
	if _, err := runUntil(t, cfg, p, func() bool {
		st, err := state.Load(cfg.StatePath)
		return err == nil && st.Backfill == nil
	}); err != nil {
		t.Fatal(err)
	}
	got := p.counts()
	extra := 0
	for _, ev := range api.events {
		if got[ev.uuid] == 0 {
			t.Errorf("event %s at %s never published", ev.uuid, ev.ts.Format(time.RFC3339Nano))
		}
		extra += max(got[ev.uuid]-1, 0)
	}
	// At most three pages past the end per slice: the one across the end,
	// the first one entirely past it, and one requested before the
	// publish loop saw that.
	slices := len(New(cfg).planBackfill(now).slices)
	if limit := slices * 3 * api.pageSize; extra > limit {
		t.Fatalf("%d events published twice or more, more than %d: slices read past their end", extra, limit)
	}
}
