package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/elastic-agent-libs/logp/logptest"
	"github.com/elastic/elastic-agent-libs/mapstr"

	"github.com/eventsapibeat/eventsapibeat/internal/breaker"
	"github.com/eventsapibeat/eventsapibeat/internal/budget"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module"
)

// testType maps {"uuid": "..."} items; anything else is "not an object".
var testType = module.Type{
	Name: "itemusages", ConfigKey: "item_usages", Dataset: "1password.item_usages",
	Map: func(item []byte, opts module.MapOptions) (beat.Event, error) {
		var v struct {
			UUID string `json:"uuid"`
		}
		if err := json.Unmarshal(item, &v); err != nil {
			return beat.Event{}, fmt.Errorf("not a JSON object")
		}
		return beat.Event{
			Timestamp: opts.Received,
			Meta:      mapstr.M{"_id": "itemusages-" + v.UUID, "event_type": "itemusages"},
			Fields:    mapstr.M{"event": mapstr.M{"id": v.UUID}},
		}, nil
	},
}

// reply is one scripted answer of the fake API.
type reply struct {
	page *eventsapi.Page
	err  error
}

// fakeAPI answers requests from a script keyed by "<version> <cursor>" ("" =
// a reset request). Each key's replies are consumed in order; the last one
// repeats.
type fakeAPI struct {
	mu       sync.Mutex
	script   map[string][]reply
	requests []string
	// idle is closed once a request finds nothing scripted; idleCursor is
	// that request's cursor, the one of the last page served.
	idle       chan struct{}
	idleCursor string
	once       sync.Once
	// introspection answers Introspect (a token with every feature if nil).
	introspection *eventsapi.Introspection
	introspectErr error
}

func (f *fakeAPI) fetcher(version string) (Fetcher, error) { return fakeFetcher{f, version}, nil }

type fakeFetcher struct {
	api     *fakeAPI
	version string
}

func (ff fakeFetcher) BaseURL() string { return "http://fake" }

func (ff fakeFetcher) Introspect(context.Context) (*eventsapi.Introspection, error) {
	if ff.api.introspectErr != nil || ff.api.introspection != nil {
		return ff.api.introspection, ff.api.introspectErr
	}
	return &eventsapi.Introspection{UUID: "INTEGRATION", Features: []string{"itemusages"}}, nil
}

func (ff fakeFetcher) Fetch(ctx context.Context, _ string, req eventsapi.Request) (*eventsapi.Page, error) {
	f := ff.api
	key := ff.version + " " + req.Cursor
	f.mu.Lock()
	f.requests = append(f.requests, key)
	replies := f.script[key]
	if len(replies) == 0 {
		// Nothing scripted: the stream is caught up; report idleness.
		f.once.Do(func() {
			f.idleCursor = req.Cursor
			close(f.idle)
		})
		f.mu.Unlock()
		<-ctx.Done()
		return nil, &eventsapi.Error{Kind: eventsapi.KindCanceled, Err: ctx.Err()}
	}
	r := replies[0]
	if len(replies) > 1 {
		f.script[key] = replies[1:]
	} else {
		delete(f.script, key)
	}
	f.mu.Unlock()
	return r.page, r.err
}

func page(cursor string, hasMore bool, uuids ...string) *eventsapi.Page {
	p := &eventsapi.Page{Cursor: cursor, HasMore: hasMore}
	for _, u := range uuids {
		p.Items = append(p.Items, json.RawMessage(`{"uuid":"`+u+`"}`))
	}
	return p
}

// ackingPipeline acknowledges every event as soon as it is published.
type ackingPipeline struct {
	mu     sync.Mutex
	events []beat.Event
}

func (p *ackingPipeline) Connect() (beat.Client, error) { return nil, errors.New("use ConnectWith") }
func (p *ackingPipeline) ConnectWith(cfg beat.ClientConfig) (beat.Client, error) {
	return &ackingClient{p: p, listener: cfg.EventListener}, nil
}

type ackingClient struct {
	p        *ackingPipeline
	listener beat.EventListener
}

func (c *ackingClient) Publish(e beat.Event) { c.PublishAll([]beat.Event{e}) }
func (c *ackingClient) PublishAll(events []beat.Event) {
	c.p.mu.Lock()
	c.p.events = append(c.p.events, events...)
	c.p.mu.Unlock()
	for _, e := range events {
		c.listener.AddEvent(e, true)
	}
	c.listener.ACKEvents(len(events))
}
func (c *ackingClient) Close() error { c.listener.ClientClosed(); return nil }

func (p *ackingPipeline) ids() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.events {
		out = append(out, e.Meta["_id"].(string))
	}
	return out
}

// run runs a worker until the fake API has nothing more scripted.
func run(t *testing.T, api *fakeAPI, cfg Config) (*ackingPipeline, state.State) {
	t.Helper()
	api.idle = make(chan struct{})
	if cfg.StatePath == "" {
		cfg.StatePath = filepath.Join(t.TempDir(), "s.state")
	}
	cfg.Key, cfg.Type, cfg.NewFetcher = "item_usages", testType, api.fetcher
	if cfg.APIVersion == "" {
		cfg.APIVersion = "v2"
	}
	cfg.SampleFrequency = time.Millisecond // an unscripted poll blocks and ends the run
	cfg.RetryInit, cfg.RetryMax = time.Millisecond, 2*time.Millisecond
	p := &ackingPipeline{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(cfg).Run(ctx, p) }()
	select {
	case <-api.idle:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker never caught up")
	}
	// The fetch loop hands a page over and polls again before the publish
	// loop has necessarily handled it, and a stop drops a page not yet
	// handled. Stop only once the last page's cursor is committed.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, err := state.Load(cfg.StatePath); err == nil && st.Cursor == api.idleCursor {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the worker never committed the cursor %q of the last page", api.idleCursor)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st, err := state.Load(cfg.StatePath)
	if err != nil {
		t.Fatalf("state after run: %v", err)
	}
	return p, st
}

func TestWorkerRetriesTheSamePage(t *testing.T) {
	transient := &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 502}
	api := &fakeAPI{script: map[string][]reply{
		"v2 ":   {{err: transient}, {page: page("c1", true, "a", "b")}},
		"v2 c1": {{err: transient}, {err: &eventsapi.Error{Kind: eventsapi.KindUnauthorized, Status: 401}}, {page: page("c2", false, "c")}},
	}}
	p, st := run(t, api, Config{})
	if got := fmt.Sprint(p.ids()); got != "[itemusages-a itemusages-b itemusages-c]" {
		t.Fatalf("published %s", got)
	}
	if st.Cursor != "c2" || st.APIVersion != "v2" || st.Stream != "itemusages" {
		t.Fatalf("state = %+v", st)
	}
	want := []string{"v2 ", "v2 ", "v2 c1", "v2 c1", "v2 c1", "v2 c2"}
	if fmt.Sprint(api.requests) != fmt.Sprint(want) {
		t.Fatalf("requests %q, want %q", api.requests, want)
	}
}

func TestWorkerResumesFromState(t *testing.T) {
	api := &fakeAPI{script: map[string][]reply{
		"v2 saved": {{page: page("next", false, "x")}},
	}}
	p, st := run(t, api, Config{Resume: &state.State{Format: state.Format, Stream: "itemusages", APIVersion: "v2", Cursor: "saved"}})
	if fmt.Sprint(p.ids()) != "[itemusages-x]" || st.Cursor != "next" {
		t.Fatalf("published %v, state %+v", p.ids(), st)
	}
}

func TestWorkerLegacyCursorFallsBackToV1(t *testing.T) {
	bad := &eventsapi.Error{Kind: eventsapi.KindBadRequest, Status: 400}
	cases := []struct {
		name     string
		explicit bool
		legacy   bool
		wantV1   bool
	}{
		{"2.x cursor, default version: continue on v1", false, true, true},
		{"2.x cursor, explicit v2: no fallback", true, true, false},
		{"own v2 cursor: no fallback", false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{script: map[string][]reply{
				"v2 old": {{err: bad}},
				"v1 old": {{page: page("v1next", false, "l")}},
			}}
			resume := &state.State{Cursor: "old"}
			if !tc.legacy {
				resume = &state.State{Format: state.Format, Stream: "itemusages", APIVersion: "v2", Cursor: "old"}
			}
			statePath := filepath.Join(t.TempDir(), "s.state")
			if !tc.wantV1 {
				// No page is ever served: the worker keeps retrying v2.
				api.script["v2 old"] = []reply{{err: bad}, {err: bad}, {err: bad}}
				api.idle = make(chan struct{})
				cfg := Config{Key: "item_usages", Type: testType, NewFetcher: api.fetcher, APIVersion: "v2", APIVersionExplicit: tc.explicit,
					StatePath: statePath, Resume: resume, SampleFrequency: time.Hour, RetryInit: time.Millisecond, RetryMax: time.Millisecond}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- New(cfg).Run(ctx, &ackingPipeline{}) }()
				<-api.idle
				cancel()
				<-done
				for _, r := range api.requests {
					if r != "v2 old" {
						t.Fatalf("unexpected request %q: requests %q", r, api.requests)
					}
				}
				return
			}
			p, st := run(t, api, Config{StatePath: statePath, Resume: resume, APIVersionExplicit: tc.explicit})
			if fmt.Sprint(p.ids()) != "[itemusages-l]" || st.Cursor != "v1next" || st.APIVersion != "v1" {
				t.Fatalf("published %v, state %+v", p.ids(), st)
			}
		})
	}
}

func TestWorkerPublishesUnmappableItems(t *testing.T) {
	api := &fakeAPI{script: map[string][]reply{
		"v2 ": {{page: &eventsapi.Page{Cursor: "c1", Items: []json.RawMessage{json.RawMessage(`"just a string"`), json.RawMessage(`{"uuid":"ok"}`)}}}},
	}}
	p, st := run(t, api, Config{})
	if len(p.events) != 2 || st.Cursor != "c1" {
		t.Fatalf("%d events, state %+v", len(p.events), st)
	}
	bad := p.events[0]
	msg, _ := bad.Fields.GetValue("error.message")
	orig, _ := bad.Fields.GetValue("event.original")
	if msg == nil || orig != `"just a string"` || bad.Meta["event_type"] != "itemusages" || bad.Meta["_id"] == "" {
		t.Fatalf("fallback document = %v meta %v", bad.Fields, bad.Meta)
	}
}

func TestWorkerCommitsEmptyPages(t *testing.T) {
	api := &fakeAPI{script: map[string][]reply{
		"v2 ": {{page: page("empty-cursor", false)}},
	}}
	p, st := run(t, api, Config{})
	if len(p.events) != 0 || st.Cursor != "empty-cursor" {
		t.Fatalf("%d events, state %+v", len(p.events), st)
	}

	// An empty page after events keeps the time of the newest event.
	api = &fakeAPI{script: map[string][]reply{
		"v2 ":   {{page: page("c1", false, "a")}},
		"v2 c1": {{page: page("c2", false)}},
	}}
	p, st = run(t, api, Config{})
	if len(p.events) != 1 || st.Cursor != "c2" || !st.LastEventTime.Equal(p.events[0].Timestamp) {
		t.Fatalf("state %+v after event at %s", st, p.events[0].Timestamp)
	}
}

func TestWorkerRateLimitPenalizesTheSharedBudget(t *testing.T) {
	limited := &eventsapi.Error{Kind: eventsapi.KindRateLimited, Status: 429, RetryAfter: 20 * time.Millisecond}
	api := &fakeAPI{script: map[string][]reply{
		"v2 ": {{err: limited}, {err: limited}, {page: page("c1", false, "a")}},
	}}
	b := budget.New(budget.Config{PerMinute: 100, PerHour: 1000})
	metrics := NewMetrics(nil)
	p, st := run(t, api, Config{Budget: b, Metrics: metrics, Breaker: breaker.Config{FailureThreshold: 1, OpenTimeout: time.Hour}})
	if len(p.events) != 1 || st.Cursor != "c1" {
		t.Fatalf("%d events, state %+v", len(p.events), st)
	}
	if snap := b.Snapshot(); snap.Penalties != 2 {
		t.Errorf("budget penalties = %d, want 2", snap.Penalties)
	}
	if got := metrics.RateLimited.Get(); got != 2 {
		t.Errorf("requests.rate_limited = %d, want 2", got)
	}
	// 429s are not API failures: a breaker with threshold 1 stayed closed.
	if got := metrics.BreakerOpened.Get(); got != 0 {
		t.Errorf("breaker opened %d times on 429s", got)
	}
}

func TestWorkerBreakerOpensAndRecovers(t *testing.T) {
	down := &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}
	api := &fakeAPI{script: map[string][]reply{
		"v2 ": {{err: down}, {err: down}, {err: down}, {page: page("c1", false, "a")}},
	}}
	metrics := NewMetrics(nil)
	p, st := run(t, api, Config{Metrics: metrics, Breaker: breaker.Config{FailureThreshold: 2, SuccessThreshold: 1, OpenTimeout: 5 * time.Millisecond}})
	if len(p.events) != 1 || st.Cursor != "c1" {
		t.Fatalf("%d events, state %+v", len(p.events), st)
	}
	if got := metrics.BreakerOpened.Get(); got < 1 {
		t.Errorf("breaker.opened = %d, want at least 1", got)
	}
	if got := metrics.BreakerState.Get(); got != "closed" {
		t.Errorf("breaker.state = %q after recovery, want closed", got)
	}
}

func TestWorkerReportsIntrospection(t *testing.T) {
	cases := []struct {
		name  string
		info  *eventsapi.Introspection
		err   error
		level string
		want  string
	}{
		{"token accepted", &eventsapi.Introspection{UUID: "INTEG", AccountUUID: "ACCOUNT", Features: []string{"itemusages", "auditevents"}}, nil, "info", "token accepted by http://fake: integration INTEG, account ACCOUNT"},
		{"feature missing", &eventsapi.Introspection{UUID: "INTEG", Features: []string{"signinattempts"}}, nil, "error", "lacks the itemusages feature (it has: signinattempts)"},
		{"token refused", nil, &eventsapi.Error{Kind: eventsapi.KindUnauthorized, Status: 401}, "error", "refuses the token"},
		{"API unreachable", nil, &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}, "warn", "could not check the token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
			api := &fakeAPI{script: map[string][]reply{"v2 ": {{page: page("c1", false, "a")}}}, introspection: tc.info, introspectErr: tc.err}
			run(t, api, Config{Logger: logger})
			found := false
			for _, entry := range logs.All() {
				if strings.Contains(entry.Message, tc.want) {
					found = entry.Level.String() == tc.level
				}
			}
			if !found {
				t.Fatalf("no %s log containing %q; logs: %v", tc.level, tc.want, logs.All())
			}
		})
	}
}
