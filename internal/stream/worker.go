// Package stream is the one generic worker that serves every event type:
// it loads the stream's position, fetches pages from the Events API, maps
// each item to an ECS event with the type's mapper, publishes the events with
// guaranteed delivery, and persists a page's cursor only after the output has
// acknowledged every event up to the end of that page.
//
// It knows nothing about any one event type (module.Type carries all that),
// and nothing about HTTP (the Fetcher does).
package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/common/acker"
	"github.com/elastic/beats/v7/libbeat/common/backoff"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/mapstr"

	"github.com/eventsapibeat/eventsapibeat/internal/breaker"
	"github.com/eventsapibeat/eventsapibeat/internal/budget"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module"
)

// Fetcher fetches one page of a type's events and describes its token.
// *eventsapi.Client is one.
type Fetcher interface {
	Fetch(ctx context.Context, eventType string, req eventsapi.Request) (*eventsapi.Page, error)
	Introspect(ctx context.Context) (*eventsapi.Introspection, error)
	BaseURL() string
}

// Config is everything a worker needs; the beater builds it from the
// configuration, the token and the state file.
type Config struct {
	// Key is the stream's configuration key, used in every log line and
	// error ("item_usages").
	Key  string
	Type module.Type
	// NewFetcher returns a fetcher for an API version. The worker asks for a
	// second version only to continue an eventsapibeat 2.x (v1) cursor that
	// the configured version rejects.
	NewFetcher func(apiVersion string) (Fetcher, error)
	// APIVersion is the version to use; APIVersionExplicit says the user set
	// it (otherwise a legacy cursor may fall back to v1).
	APIVersion         string
	APIVersionExplicit bool
	// StatePath is the absolute path of the cursor state file.
	StatePath string
	// ReplayState marks every state the stream writes as written by a
	// replay (state.State.Replay), so that it never passes for a
	// production cursor.
	ReplayState bool
	// Resume is the loaded state, nil when there is none.
	Resume *state.State
	// Start is the ResetCursor used when there is no state.
	Start eventsapi.ResetCursor
	// SampleFrequency is the wait between polls once caught up.
	SampleFrequency time.Duration
	// PreserveOriginal sets event.original.
	PreserveOriginal bool
	// ShutdownTimeout bounds how long a stop waits for in-flight events to
	// be acknowledged before the last cursor is written.
	ShutdownTimeout time.Duration
	Logger          *logp.Logger
	Metrics         *Metrics
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Retry bounds the backoff between failed requests.
	RetryInit, RetryMax time.Duration
	// Budget paces requests; it is shared by the streams of one account.
	// Nil means unpaced (tests).
	Budget *budget.Budget
	// Breaker is the stream's circuit breaker settings.
	Breaker breaker.Config
	// Backfill configures the parallel backfill of a stream far behind now
	// (see backfill.go).
	Backfill BackfillConfig
	// ExplainUnauthorized, if set, finds the likely cause of a 401 (expired,
	// revoked, missing feature) and says which setting to change. It may
	// call introspect, which the worker provides: it waits for the budget
	// and counts in requests.introspect, or, right after the start-up
	// introspect, returns that answer without a request. Implementations
	// should remember the answer per token: the worker asks on every 401.
	ExplainUnauthorized func(ctx context.Context, introspect IntrospectFunc) string
	// ProgressInterval is the period of the progress log lines while the
	// stream is behind (DefaultProgressInterval when 0).
	ProgressInterval time.Duration
}

// Worker runs one stream.
type Worker struct {
	cfg     Config
	log     *logp.Logger
	commits *committer
	breaker *breaker.Breaker
	seq     uint64

	clientClosed     chan struct{}
	markClientClosed func()
}

// ClientClosed is closed once the worker's publisher client is closed, after
// which no acknowledgement can advance its cursor. The beat waits for it
// before the publisher pipeline closes, because a closing pipeline reports
// the events it gives up on as acknowledged to clients still connected.
func (w *Worker) ClientClosed() <-chan struct{} { return w.clientClosed }

// New returns a worker for cfg.
func New(cfg Config) *Worker {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryInit <= 0 {
		cfg.RetryInit = time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 2 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = logp.NewNopLogger()
	}
	w := &Worker{
		cfg:          cfg,
		log:          cfg.Logger.With("stream", cfg.Key),
		commits:      newCommitter(),
		clientClosed: make(chan struct{}),
	}
	w.markClientClosed = sync.OnceFunc(func() { close(w.clientClosed) })
	bc := cfg.Breaker
	bc.Now = cfg.Now
	bc.OnChange = w.breakerChanged
	w.breaker = breaker.New(bc)
	cfg.Metrics.BreakerState.Set(breaker.Closed.String())
	cfg.Metrics.start(cfg.Resume, cfg.Start, cfg.Budget)
	return w
}

// breakerChanged reports breaker transitions in the log and the metrics.
func (w *Worker) breakerChanged(from, to breaker.State) {
	w.cfg.Metrics.BreakerState.Set(to.String())
	switch to {
	case breaker.Open:
		w.cfg.Metrics.BreakerOpened.Inc()
		w.log.Warnf("circuit breaker open after repeated failures (was %s): no requests for this stream until a probe in %s", from, w.cfg.Breaker.OpenTimeout)
	case breaker.HalfOpen:
		w.log.Infof("circuit breaker half-open: probing the Events API")
	case breaker.Closed:
		w.log.Infof("circuit breaker closed: the Events API answers again")
	}
}

// Run collects the stream until ctx is cancelled. It returns nil on a clean
// stop; an error only when the stream cannot run at all.
func (w *Worker) Run(ctx context.Context, pipeline beat.PipelineConnector) error {
	// A stream far behind now backfills in parallel time slices; its ACKs
	// and commits are then tracked per slice (backfill.go).
	var bf *backfill
	onACK := w.onACK
	if plan := w.planBackfill(w.cfg.Now()); plan != nil {
		bf = w.newBackfill(plan)
		onACK = bf.progress.onACK
	}
	normalize := false
	client, err := pipeline.ConnectWith(beat.ClientConfig{
		// Never drop an event after max_retries: its cursor would be
		// committed although it was not delivered.
		PublishMode: beat.GuaranteedSend,
		WaitClose:   w.cfg.ShutdownTimeout,
		// The mappers write only the generic types normalization would
		// produce (mapcheck.Check verifies it for every mapped event), so
		// its deep copy of every event is pure cost.
		Processing: beat.ProcessingConfig{EventNormalization: &normalize},
		// ConnectionOnly: ACKs that arrive after Close (events the closing
		// pipeline gave up on) must not advance the cursor.
		EventListener: acker.ConnectionOnly(acker.EventPrivateReporter(onACK)),
	})
	if err != nil {
		w.markClientClosed()
		return fmt.Errorf("stream %s: connecting to the publisher pipeline: %w", w.cfg.Key, err)
	}
	closeClient := sync.OnceFunc(func() {
		if err := client.Close(); err != nil {
			w.log.Warnf("closing the publisher client: %v", err)
		}
		w.markClientClosed()
	})
	// On stop the client is closed at once, even while a publish is blocked
	// on a full queue (output down): Close waits up to ShutdownTimeout for
	// the output to acknowledge what is in flight, and from then on no ACK
	// can move the cursor. The blocked publish itself returns only when the
	// pipeline closes, which libbeat does after the streams' clients are
	// closed (see ClientClosed).
	stopClosing := context.AfterFunc(ctx, closeClient)
	defer stopClosing()

	var loops sync.WaitGroup
	commitCtx, stopCommits := context.WithCancel(context.Background())
	loops.Add(1)
	go func() {
		defer loops.Done()
		if bf != nil {
			bf.commitLoop(commitCtx)
			return
		}
		w.commitLoop(commitCtx)
	}()

	stopProgress := w.startProgress(ctx)
	if bf != nil {
		bf.run(ctx, client)
	} else {
		w.collect(ctx, client)
	}
	stopProgress()

	// Stop: wait for in-flight events (bounded by WaitClose), then persist
	// the newest position they made committable.
	closeClient()
	stopCommits()
	loops.Wait()
	outstanding := 0
	if bf != nil {
		bf.commit()
		outstanding = bf.progress.outstanding()
	} else {
		w.commit(w.commits.take())
		outstanding = w.commits.outstanding()
	}
	w.log.Infof("stopped; %d event(s) were not acknowledged and will be fetched again after restart", max(outstanding, 0))
	return nil
}

// fetched is a page on its way from the fetch loop to the publish loop.
type fetched struct {
	page       *eventsapi.Page
	apiVersion string
	received   time.Time
}

// collect runs the fetch loop and the publish loop side by side: while a
// page is mapped and published (which blocks when the output is slow), the
// next one is already being fetched. Pages stay in cursor order, and the
// channel holds a single page, so memory stays bounded.
func (w *Worker) collect(ctx context.Context, client beat.Client) {
	pages := make(chan fetched, 1)
	fetchCtx, stopFetching := context.WithCancel(ctx)
	var fetching sync.WaitGroup
	fetching.Add(1)
	go func() {
		defer fetching.Done()
		defer close(pages)
		w.fetchLoop(fetchCtx, pages)
	}()
	defer func() {
		stopFetching()
		for range pages { // unblock a fetch loop waiting to hand over a page
		}
		fetching.Wait()
	}()

	var lastEventTime time.Time
	if r := w.cfg.Resume; r != nil {
		lastEventTime = r.LastEventTime
	}
	for f := range pages {
		if ctx.Err() != nil {
			return
		}
		w.seq++
		// An empty page keeps the newest event time seen so far.
		pos := &position{seq: w.seq, cursor: f.page.Cursor, apiVersion: f.apiVersion, lastEventTime: lastEventTime}
		if len(f.page.Items) == 0 {
			w.commits.emptyPage(pos)
			continue
		}
		w.mapChunks(f.page, f.received, func(events []beat.Event, last bool) {
			newest := events[len(events)-1].Timestamp
			if last {
				// The last event carries the page's position.
				pos.lastEventTime = newest
				events[len(events)-1].Private = pos
			}
			// Counted before publishing: the ACK may come back before
			// PublishAll returns.
			w.commits.published(len(events))
			client.PublishAll(events)
			w.cfg.Metrics.published(len(events), newest)
		})
		lastEventTime = pos.lastEventTime
	}
}

// fetchLoop follows the cursor chain and hands every page to out, in order,
// retrying a failed request for the same page until it succeeds.
func (w *Worker) fetchLoop(ctx context.Context, out chan<- fetched) {
	version := w.cfg.APIVersion
	fetcher, err := w.cfg.NewFetcher(version)
	if err != nil {
		w.log.Errorf("cannot create the API client: %v", err)
		return
	}
	req := eventsapi.Request{Reset: w.cfg.Start}
	legacyCursor := false
	if r := w.cfg.Resume; r != nil {
		req = eventsapi.Request{Cursor: r.Cursor}
		legacyCursor = r.Legacy()
		w.log.Infof("resuming from the cursor in %s (API %s, last event %s)", w.cfg.StatePath, version, formatTime(r.LastEventTime))
	} else {
		w.log.Infof("no state in %s; starting from starting_cursor (limit %d, start_time %s)", w.cfg.StatePath, w.cfg.Start.Limit, formatTimePtr(w.cfg.Start.StartTime))
	}

	w.introspect(ctx, fetcher)

	retry := backoff.NewEqualJitterBackoff(ctx.Done(), w.cfg.RetryInit, w.cfg.RetryMax)
	for ctx.Err() == nil {
		page, err := w.request(ctx, fetcher, req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, errBreakerOpen) {
				continue
			}
			if legacyCursor && !w.cfg.APIVersionExplicit && version != "v1" && errors.Is(err, eventsapi.ErrBadRequest) {
				// eventsapibeat 2.x spoke v1; if the v2 endpoint does not take
				// its cursor, continue that cursor on v1 rather than re-read
				// or skip anything.
				w.log.Warnf("the %s endpoint rejected the eventsapibeat 2.x cursor (%v); continuing it on the v1 endpoint. Set api_version: v1 for this stream to keep it so, or move %s away and set starting_cursor to switch to v2 from a chosen time", version, err, w.cfg.StatePath)
				version = "v1"
				if fetcher, err = w.cfg.NewFetcher(version); err != nil {
					w.log.Errorf("cannot create the v1 API client: %v", err)
					return
				}
				legacyCursor = false
				continue
			}
			w.logFetchError(ctx, fetcher, err)
			w.cfg.Metrics.Retries.Inc()
			if errors.Is(err, eventsapi.ErrRateLimited) {
				// The budget now blocks every stream of the account until
				// the window allows requests again; no backoff on top.
				continue
			}
			if errors.Is(err, eventsapi.ErrTokenChanged) {
				// The token file was rotated: repeat now, with the new
				// token, through the budget like any request.
				continue
			}
			if !retry.Wait() {
				return
			}
			continue
		}
		retry.Reset()
		legacyCursor = false
		w.cfg.Metrics.pageFetched(!page.HasMore)
		select {
		case out <- fetched{page: page, apiVersion: version, received: w.cfg.Now()}:
		case <-ctx.Done():
			return
		}
		req = eventsapi.Request{Cursor: page.Cursor}
		if !page.HasMore && sleep(ctx, w.cfg.SampleFrequency) != nil {
			return
		}
	}
}

// publishChunk is how many items are mapped before they are handed to
// libbeat. A mapped event takes about 5 KiB, its raw item about 1 KiB, and
// PublishAll blocks while libbeat's queue is full: mapping a whole page
// first would keep up to a page of documents (~5 MiB) per stream beside the
// bounded queue.
const publishChunk = 100

// mapChunks maps a page's items in order, publishChunk at a time, and hands
// each chunk to publish; last is true for the page's final chunk. The slice
// is reused for the next chunk (libbeat copies the events it is given).
func (w *Worker) mapChunks(page *eventsapi.Page, received time.Time, publish func(events []beat.Event, last bool)) {
	if len(page.Items) == 0 {
		return
	}
	opts := module.MapOptions{Received: received, PreserveOriginal: w.cfg.PreserveOriginal}
	events := make([]beat.Event, 0, min(len(page.Items), publishChunk))
	for i, item := range page.Items {
		ev, err := w.cfg.Type.Map(item, opts)
		if err != nil {
			// Not even a JSON object: publish what we have rather than
			// leave a hole in the audit trail.
			w.cfg.Metrics.MappingErrors.Inc()
			w.log.Warnf("item %d of a page is not a JSON object (%v); publishing it with error.message", i, err)
			ev = unmappable(w.cfg.Type, item, received, err)
		}
		events = append(events, ev)
		if last := i == len(page.Items)-1; last || len(events) == cap(events) {
			publish(events, last)
			clear(events) // the documents belong to libbeat now
			events = events[:0]
		}
	}
}

// unmappable builds the document for an item the type's mapper rejected.
func unmappable(t module.Type, item []byte, received time.Time, err error) beat.Event {
	return beat.Event{
		Timestamp: received,
		Meta: mapstr.M{
			"_id":        module.DocumentID(t.Name, "", item),
			"event_type": t.Name,
		},
		Fields: mapstr.M{
			"event": mapstr.M{
				"kind":     "pipeline_error",
				"module":   module.ModuleName,
				"dataset":  t.Dataset,
				"created":  common.Time(received.UTC()),
				"original": string(item),
			},
			"error": mapstr.M{"message": "item could not be mapped: " + err.Error()},
		},
	}
}

func (w *Worker) onACK(acked int, data []interface{}) {
	w.cfg.Metrics.EventsAcked.Add(uint64(len(data)))
	w.commits.acked(acked, data)
}

// commitLoop persists positions as they become committable.
func (w *Worker) commitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.commits.signal:
			w.commit(w.commits.take())
		}
	}
}

func (w *Worker) commit(p *position) {
	if p == nil {
		return
	}
	err := state.Save(w.cfg.StatePath, state.State{
		Stream:        w.cfg.Type.Name,
		APIVersion:    p.apiVersion,
		Cursor:        p.cursor,
		LastEventTime: p.lastEventTime,
		UpdatedAt:     w.cfg.Now().UTC(),
		Replay:        w.cfg.ReplayState,
	})
	if err != nil {
		// The position stays in memory only; the next commit retries the
		// write. After a crash the stream re-reads from the last written
		// cursor: at-least-once, never a gap.
		w.cfg.Metrics.CommitErrors.Inc()
		w.log.Errorf("cannot persist the cursor: %v", err)
		return
	}
	w.cfg.Metrics.committed(p.lastEventTime)
}

// introspect asks the API what it thinks of the token and says so once at
// start. It never stops the stream: the fetch loop handles a bad token with
// backoff, so a token that is fixed later is picked up without a restart.
func (w *Worker) introspect(ctx context.Context, f Fetcher) {
	// Introspect counts against the account's rate limit like any request.
	info, err := w.introspectRequest(ctx, f)
	if errors.Is(err, eventsapi.ErrTokenChanged) {
		// Refused with a token the file has replaced since: ask once
		// more with the new one.
		info, err = w.introspectRequest(ctx, f)
	}
	switch {
	case ctx.Err() != nil:
		return
	case err != nil:
		if errors.Is(err, eventsapi.ErrUnauthorized) {
			// The explanation gets this answer instead of asking again.
			known := func(context.Context) (*eventsapi.Introspection, error) { return info, err }
			w.log.Errorf("the Events API at %s refuses the token (%v): %s; the stream will keep retrying", f.BaseURL(), err, w.explainUnauthorized(ctx, known))
			return
		}
		w.log.Warnf("could not check the token with the Events API at %s (%v); starting anyway", f.BaseURL(), err)
		return
	}
	account := info.AccountUUID
	if account == "" {
		account = "unknown"
	}
	has := false
	for _, feature := range info.Features {
		has = has || feature == w.cfg.Type.Name
	}
	if !has {
		w.log.Errorf("the Events API says the token (integration %s, account %s) lacks the %s feature (it has: %s); issue a token with this event type enabled. The stream will keep retrying", info.UUID, account, w.cfg.Type.Name, strings.Join(info.Features, ", "))
		return
	}
	w.log.Infof("token accepted by %s: integration %s, account %s, issued %s, features %s", f.BaseURL(), info.UUID, account, formatTime(info.IssuedAt), strings.Join(info.Features, ", "))
}

// explainUnauthorized says why the token was likely refused.
func (w *Worker) explainUnauthorized(ctx context.Context, introspect IntrospectFunc) string {
	if w.cfg.ExplainUnauthorized != nil {
		return w.cfg.ExplainUnauthorized(ctx, introspect)
	}
	return fmt.Sprintf("it may be revoked or expired, or lack the %s feature; issue a new token with %s enabled and update eventsapibeat.%s.auth_token", w.cfg.Type.Name, w.cfg.Type.Name, w.cfg.Key)
}

func (w *Worker) logFetchError(ctx context.Context, f Fetcher, err error) {
	switch {
	case errors.Is(err, eventsapi.ErrUnauthorized):
		introspect := func(ctx context.Context) (*eventsapi.Introspection, error) { return w.introspectRequest(ctx, f) }
		w.log.Errorf("the Events API refused the token (%v): %s. Retrying with backoff", err, w.explainUnauthorized(ctx, introspect))
	case errors.Is(err, eventsapi.ErrTokenChanged):
		w.log.Infof("the Events API refused the previous token (%v), and the token file holds a new one since; repeating the request with it", err)
	case errors.Is(err, eventsapi.ErrRateLimited):
		w.log.Warnf("rate limited by the Events API (%v); every stream of this account waits for the rate-limit window", err)
	case errors.Is(err, eventsapi.ErrBadRequest):
		w.log.Errorf("the Events API rejected the request (%v); if this persists, check starting_cursor or move %s away to restart from starting_cursor. Retrying with backoff", err, w.cfg.StatePath)
	case errors.Is(err, eventsapi.ErrNotFound):
		w.log.Errorf("the Events API answered 404 (%v): check eventsapibeat.url / eventsapibeat.%s.url. Retrying with backoff", err, w.cfg.Key)
	default:
		w.log.Warnf("fetching a page failed (%v); retrying the same page with backoff", err)
	}
}

// IntrospectFunc asks the introspect endpoint about the stream's token.
type IntrospectFunc func(ctx context.Context) (*eventsapi.Introspection, error)

// introspectRequest sends one introspect request, paced by the account's
// budget and counted in requests.introspect.
func (w *Worker) introspectRequest(ctx context.Context, f Fetcher) (*eventsapi.Introspection, error) {
	if err := w.waitBudget(ctx); err != nil {
		return nil, err
	}
	w.cfg.Metrics.Introspections.Inc()
	return f.Introspect(ctx)
}

// errBreakerOpen means the breaker refused a request and the worker waited
// for it; the caller just loops.
var errBreakerOpen = errors.New("circuit breaker open")

// request sends one page request through the breaker and the budget, and
// feeds the outcome back to both.
func (w *Worker) request(ctx context.Context, f Fetcher, req eventsapi.Request) (*eventsapi.Page, error) {
	if ok, retryIn := w.breaker.Allow(); !ok {
		if err := sleep(ctx, retryIn); err != nil {
			return nil, err
		}
		return nil, errBreakerOpen
	}
	if err := w.waitBudget(ctx); err != nil {
		w.breaker.Release()
		return nil, err
	}
	w.cfg.Metrics.Requests.Inc()
	page, err := f.Fetch(ctx, w.cfg.Type.Name, req)
	w.cfg.Metrics.requestDone(err)
	if err != nil && !canceled(err) {
		// Counted even when the stop comes right after: the API did fail
		// this request (and a recording holds it as a failure).
		w.cfg.Metrics.RequestErrors.Inc()
	}
	switch {
	case err == nil:
		w.breaker.Success()
	case ctx.Err() != nil:
		w.breaker.Release()
	case errors.Is(err, eventsapi.ErrTokenChanged):
		// A stale token, not a failure of the API.
		w.breaker.Release()
	case errors.Is(err, eventsapi.ErrRateLimited):
		// Not a failure of the API: the account's budget is spent.
		w.breaker.Release()
		w.cfg.Metrics.RateLimited.Inc()
		var apiErr *eventsapi.Error
		retryAfter := time.Duration(0)
		if errors.As(err, &apiErr) {
			retryAfter = apiErr.RetryAfter
		}
		if w.cfg.Budget != nil {
			w.cfg.Budget.Penalize(retryAfter)
		} else {
			start := w.cfg.Now()
			serr := sleep(ctx, max(retryAfter, time.Second))
			w.cfg.Metrics.waited(w.cfg.Now().Sub(start))
			if serr != nil {
				return nil, serr
			}
		}
	default:
		w.breaker.Failure()
	}
	return page, err
}

// canceled reports whether a request failed only because the stream is
// stopping, rather than on its own.
func canceled(err error) bool {
	return errors.Is(err, eventsapi.ErrCanceled) || errors.Is(err, context.Canceled)
}

// waitBudget waits until the account's request budget allows a request,
// and counts the time waited.
func (w *Worker) waitBudget(ctx context.Context) error {
	if w.cfg.Budget == nil {
		return nil
	}
	start := w.cfg.Now()
	err := w.cfg.Budget.Wait(ctx)
	w.cfg.Metrics.waited(w.cfg.Now().Sub(start))
	return err
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "API default"
	}
	return formatTime(*t)
}
