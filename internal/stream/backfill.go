package stream

// Parallel time-sliced backfill.
//
// A stream far behind now (no state and a start_time far in the past, or a
// saved position whose last event is old) would read its backlog with one
// cursor chain: one page per round trip, about a quarter of the API's
// request budget at 500 ms. Instead the window [from, H) is split into time
// slices, each read by its own cursor chain (ResetCursor with start_time
// and end_time), up to Backfill.Slices chains at a time, oldest slice
// first. H, the handover point, is "now" when the backfill is planned. A
// tail chain, ResetCursor{start_time: H - handoverOverlap} with no
// end_time, runs from the start beside the slices: it reads what arrives
// after H, tails like the ordinary live cursor (so new events reach the
// output within seconds even during a long backfill) and becomes the
// stream's live cursor once every slice is acknowledged. There is no
// separate handover step, hence no gap at H.
//
// # Exactly once at the seams
//
// The API documents neither whether end_time is inclusive nor whether an
// event can become visible after its timestamp (ingestion delay); the
// simulator treats both bounds as inclusive. Both readings are handled:
//   - an event exactly on an inner slice boundary may be served by both
//     neighbouring slices;
//   - the tail chain starts handoverOverlap before H, so an event whose
//     timestamp is just before H but which became visible only after the
//     last slice had passed it is still read (by the tail chain).
//
// Events whose timestamp lies on a seam (an inner boundary, or the overlap
// [H-handoverOverlap, H]) are deduplicated by document id (stream + uuid) in
// the publish loop, the only goroutine that publishes, so a normal run
// delivers every event exactly once. The set is small (events of one
// minute plus those exactly on a boundary) and capped; it is not persisted,
// so after a restart a seam event may be sent twice, which at-least-once
// allows (with the stable @metadata._id and op_type create, Elasticsearch
// answers 409 and keeps the first copy).
//
// Whether a cursor created with an end_time stays within it is not
// documented either (the simulator's does). A slice page whose events all
// lie after the slice's end ends the slice, so such an API costs a few
// duplicate pages per slice instead of every slice reading up to now.
//
// # At least once across restarts
//
// Every page, empty or not, is recorded with the number of events published
// up to and including it. libbeat acknowledges a client's events in publish
// order, so once that many events are acknowledged, the page and everything
// published before it are delivered: the page's cursor becomes its chain's
// committed cursor, and a slice whose last page (has_more false) is
// acknowledged is done. The state file (written atomically by
// internal/state) then holds, besides the tail chain's cursor, every slice
// not yet done with its committed cursor (state.Backfill). A restart
// resumes each pending slice from its cursor (or its start_time when none
// is committed) and the tail chain from its cursor (or from its
// start_time), so nothing is skipped and only unacknowledged pages are read
// again. Once every slice is done the file is an ordinary single-cursor
// state again. Nothing is written before the first event is acknowledged:
// until then a restart simply plans the backfill again. The state's
// last_event_time stays a watermark, as with one chain: every event up to
// it is acknowledged (the newest acknowledged event of the done slices
// before the oldest pending one, and of that one's acknowledged pages).
//
// # Bounded memory
//
// A chain takes a page slot before it sends a request and the publish loop
// returns it once the page's events are handed to libbeat's bounded queue.
// The streams of one account share one pool of as many slots as parallel
// slices (they share the request budget too, so more would not be faster),
// so at most that many pages are in memory whatever the output's speed and
// however many streams backfill: with a slow output the chains wait for
// slots instead of piling pages up.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common/backoff"

	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// BackfillConfig configures the parallel time-sliced backfill.
type BackfillConfig struct {
	// Slices is how many time slices are fetched at once. 0 or 1 reads a
	// backlog with one cursor chain (a backfill already in progress in the
	// state file is finished one slice at a time).
	Slices int
	// MinWindow is how far behind now the stream must be for a backfill.
	MinWindow time.Duration
	// Pages bounds the pages held in memory by the backfills of the
	// streams sharing it (the beat gives the streams of one account one
	// pool, as they share one request budget). Nil: a pool of Slices pages
	// for this stream alone.
	Pages *PagePool
}

// PagePool bounds how many backfill pages are in memory at once (being
// fetched, or fetched and waiting to be published) across the streams that
// share it. It is safe for concurrent use.
type PagePool struct{ slots chan struct{} }

// NewPagePool returns a pool of n pages (at least 1).
func NewPagePool(n int) *PagePool {
	return &PagePool{slots: make(chan struct{}, max(n, 1))}
}

const (
	// slicesPerChain is how many slices each parallel chain gets on
	// average: more slices than chains keep every chain busy until close to
	// the end even when events are unevenly spread over time.
	slicesPerChain = 8
	// minSliceDuration is the shortest slice planned.
	minSliceDuration = time.Minute
	// handoverOverlap is how far before the handover point the tail chain
	// starts (see the package comment on ingestion delay).
	handoverOverlap = time.Minute
	// maxSeamIDs caps the seam deduplication set.
	maxSeamIDs = 200_000
	// apiDataWindow is how far back the Events API serves events.
	apiDataWindow = 120 * 24 * time.Hour
)

// timeRange is a slice's [Start, End] request window.
type timeRange struct{ Start, End time.Time }

// splitWindow splits [from, to] into at most n slices of at least minDur
// each; inner boundaries fall on whole seconds, which every server accepts
// in a start_time or end_time.
func splitWindow(from, to time.Time, n int, minDur time.Duration) []timeRange {
	if !to.After(from) {
		return nil
	}
	if maxN := int(to.Sub(from) / minDur); n > maxN {
		n = maxN
	}
	if n < 1 {
		n = 1
	}
	step := to.Sub(from) / time.Duration(n)
	out := make([]timeRange, 0, n)
	start := from
	for i := 1; i <= n; i++ {
		end := to
		if i < n {
			end = from.Add(step * time.Duration(i)).Truncate(time.Second)
		}
		if !end.After(start) {
			continue
		}
		out = append(out, timeRange{Start: start, End: end})
		start = end
	}
	return out
}

// backfillPlan is what a backfill runs: the slices still to read, oldest
// first, and the tail chain.
type backfillPlan struct {
	slices     []state.Slice
	tailStart  time.Time
	tailCursor string
	limit      int
	// lastEventTime is the newest acknowledged event time known at start.
	lastEventTime time.Time
	// resumed says the plan comes from a state file's backfill.
	resumed bool
}

// planBackfill decides whether the stream starts with a parallel backfill
// and plans it; nil means the ordinary single cursor chain.
func (w *Worker) planBackfill(now time.Time) *backfillPlan {
	limit := w.cfg.Start.Limit
	if limit == 0 {
		limit = eventsapi.MaxLimit
	}
	if r := w.cfg.Resume; r != nil && r.Backfill != nil {
		// A backfill in progress is always finished, whatever the
		// configuration says now: the saved cursor alone would skip its
		// pending slices.
		return &backfillPlan{
			slices:        append([]state.Slice(nil), r.Backfill.Pending...),
			tailStart:     r.Backfill.TailStart,
			tailCursor:    r.Cursor,
			limit:         limit,
			lastEventTime: r.LastEventTime,
			resumed:       true,
		}
	}
	if w.cfg.Backfill.Slices < 2 {
		return nil
	}
	var from time.Time
	switch r := w.cfg.Resume; {
	case r != nil:
		// A 2.x cursor may need the v1 fallback, and without the time of
		// its last event the position cannot be expressed as a time.
		if r.Legacy() || r.LastEventTime.IsZero() {
			return nil
		}
		// From the last acknowledged event itself: events sharing its
		// timestamp that came after it are not skipped (it may be sent
		// again: at least once).
		from = r.LastEventTime
	case w.cfg.Start.StartTime != nil && w.cfg.Start.EndTime == nil:
		from = *w.cfg.Start.StartTime
	default:
		// No start time (the API's default, one hour ago) or a bounded
		// window chosen by the user: one chain, as configured.
		return nil
	}
	if oldest := now.Add(-apiDataWindow); from.Before(oldest) {
		from = oldest
	}
	handover := now.Truncate(time.Second)
	if handover.Sub(from) < max(w.cfg.Backfill.MinWindow, 2*handoverOverlap) {
		return nil
	}
	plan := &backfillPlan{tailStart: handover.Add(-handoverOverlap), limit: limit}
	if r := w.cfg.Resume; r != nil {
		plan.lastEventTime = r.LastEventTime
	}
	for _, s := range splitWindow(from, handover, w.cfg.Backfill.Slices*slicesPerChain, minSliceDuration) {
		plan.slices = append(plan.slices, state.Slice{Start: s.Start, End: s.End})
	}
	return plan
}

// backfill runs a plan: the slice chains, the tail chain and the publish
// loop, and tracks what may be committed.
type backfill struct {
	w       *Worker
	plan    *backfillPlan
	fetcher Fetcher
	// chains is how many slices are read at once.
	chains int
	// slots bounds the pages in memory (being fetched or waiting to be
	// published); shared with the other streams of the account.
	slots chan struct{}
	// seamPoints are the slice boundaries (UnixNano); events there, or in
	// the handover overlap, are deduplicated.
	seamPoints map[int64]struct{}
	seamFrom   time.Time // handover overlap [seamFrom, seamTo]
	seamTo     time.Time
	seen       map[string]struct{}
	seenFull   bool
	// slicesRead counts the slices whose last page has been fetched.
	slicesRead atomic.Int64
	// pastEnd marks the slices that received a page entirely after their
	// end_time (an API that does not bound a cursor by its end_time).
	pastEnd []atomic.Bool
	started time.Time

	progress *backfillProgress
}

// chainPage is a page on its way from a chain to the publish loop.
type chainPage struct {
	slice    int // index into plan.slices; tailChain for the tail chain
	page     *eventsapi.Page
	received time.Time
}

// tailChain is the slice index of the tail chain.
const tailChain = -1

func (w *Worker) newBackfill(plan *backfillPlan) *backfill {
	pool := w.cfg.Backfill.Pages
	if pool == nil {
		pool = NewPagePool(w.cfg.Backfill.Slices)
	}
	b := &backfill{
		w:          w,
		plan:       plan,
		chains:     max(w.cfg.Backfill.Slices, 1),
		slots:      pool.slots,
		seamPoints: map[int64]struct{}{},
		seen:       map[string]struct{}{},
		pastEnd:    make([]atomic.Bool, len(plan.slices)),
		progress:   newBackfillProgress(w, plan),
	}
	for _, s := range plan.slices {
		b.seamPoints[s.Start.UnixNano()] = struct{}{}
		b.seamPoints[s.End.UnixNano()] = struct{}{}
	}
	b.seamFrom = plan.tailStart
	b.seamTo = plan.tailStart.Add(handoverOverlap)
	return b
}

// run fetches and publishes until ctx is done. The tail chain keeps
// running after the backfill is complete: it is the stream's live cursor.
func (b *backfill) run(ctx context.Context, client beat.Client) {
	w := b.w
	b.started = w.cfg.Now()
	if b.plan.resumed {
		w.log.Infof("resuming the parallel backfill in %s: %d time slice(s) pending, %d at a time; live cursor from %s", w.cfg.StatePath, len(b.plan.slices), b.chains, formatTime(b.plan.tailStart))
	} else {
		from := b.plan.tailStart
		if len(b.plan.slices) > 0 {
			from = b.plan.slices[0].Start
		}
		w.log.Infof("parallel backfill of %s to %s in %d time slice(s), %d at a time (backfill.parallel_slices); live cursor from %s", formatTime(from), formatTime(b.plan.tailStart.Add(handoverOverlap)), len(b.plan.slices), b.chains, formatTime(b.plan.tailStart))
	}
	fetcher, err := w.cfg.NewFetcher(w.cfg.APIVersion)
	if err != nil {
		w.log.Errorf("cannot create the API client: %v", err)
		return
	}
	b.fetcher = fetcher
	w.introspect(ctx, fetcher)

	pages := make(chan chainPage)
	fetchCtx, stopFetching := context.WithCancel(ctx)
	var chains sync.WaitGroup
	var next int // next slice to start; guarded by nextMu
	var nextMu sync.Mutex
	takeSlice := func() (int, bool) {
		nextMu.Lock()
		defer nextMu.Unlock()
		if next >= len(b.plan.slices) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(b.chains, len(b.plan.slices)) {
		chains.Add(1)
		go func() {
			defer chains.Done()
			for {
				i, ok := takeSlice()
				if !ok || !b.runChain(fetchCtx, i, pages) {
					return
				}
			}
		}()
	}
	chains.Add(1)
	go func() {
		defer chains.Done()
		b.runChain(fetchCtx, tailChain, pages)
	}()
	go func() {
		chains.Wait()
		close(pages)
	}()
	defer func() {
		stopFetching()
		for p := range pages { // unblock chains waiting to hand over a page
			_ = p
			<-b.slots
		}
	}()

	for p := range pages {
		if ctx.Err() != nil {
			<-b.slots
			return
		}
		b.publish(client, p)
		<-b.slots
	}
}

// runChain follows one chain: a slice until its last page (then it returns
// true), or the tail chain until ctx ends. It returns false when ctx ends.
func (b *backfill) runChain(ctx context.Context, slice int, out chan<- chainPage) bool {
	w := b.w
	var req eventsapi.Request
	if slice == tailChain {
		req = eventsapi.Request{Cursor: b.plan.tailCursor}
		if req.Cursor == "" {
			start := b.plan.tailStart
			req = eventsapi.Request{Reset: eventsapi.ResetCursor{Limit: b.plan.limit, StartTime: &start}}
		}
	} else {
		s := b.plan.slices[slice]
		req = eventsapi.Request{Cursor: s.Cursor}
		if req.Cursor == "" {
			start, end := s.Start, s.End
			req = eventsapi.Request{Reset: eventsapi.ResetCursor{Limit: b.plan.limit, StartTime: &start, EndTime: &end}}
		}
	}
	retry := backoff.NewEqualJitterBackoff(ctx.Done(), w.cfg.RetryInit, w.cfg.RetryMax)
	for ctx.Err() == nil {
		select {
		case b.slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
		page, err := w.request(ctx, b.fetcher, req)
		if err != nil {
			<-b.slots
			if ctx.Err() != nil {
				return false
			}
			if errors.Is(err, errBreakerOpen) {
				continue
			}
			w.logFetchError(ctx, b.fetcher, err)
			w.cfg.Metrics.Retries.Inc()
			if errors.Is(err, eventsapi.ErrRateLimited) {
				continue // the budget blocks until the window allows requests
			}
			if errors.Is(err, eventsapi.ErrTokenChanged) {
				continue // repeat now with the rotated token, through the budget
			}
			if !retry.Wait() {
				return false
			}
			continue
		}
		retry.Reset()
		// The stream has read up to now only once every slice is read.
		w.cfg.Metrics.pageFetched(slice == tailChain && !page.HasMore && b.slicesRead.Load() == int64(len(b.plan.slices)))
		select {
		case out <- chainPage{slice: slice, page: page, received: w.cfg.Now()}:
		case <-ctx.Done():
			<-b.slots
			return false
		}
		req = eventsapi.Request{Cursor: page.Cursor}
		if slice != tailChain && (!page.HasMore || b.pastEnd[slice].Load()) {
			b.slicesRead.Add(1)
			return true
		}
		if !page.HasMore && sleep(ctx, w.cfg.SampleFrequency) != nil {
			return false
		}
	}
	return false
}

// publish maps a page chunk by chunk, drops seam duplicates, records the
// page's position and hands the events to libbeat.
func (b *backfill) publish(client beat.Client, p chainPage) {
	w := b.w
	slice := p.slice != tailChain
	var end, newest time.Time
	if slice {
		end = b.plan.slices[p.slice].End
	}
	// Whether the API keeps a cursor within its end_time is undocumented:
	// a slice page whose events all lie after the slice's end means it
	// does not, and the slice ends there (its events are still published;
	// the next slice owns them too, so at worst they are sent twice).
	afterEnd := slice && len(p.page.Items) > 0
	emit := func(kept []beat.Event, last bool) {
		// Recorded before publishing: the ACK may come back before
		// PublishAll returns. Only the last chunk carries the page's
		// position, so it counts once every chunk is acknowledged.
		if !last {
			b.progress.sent(len(kept))
		} else {
			if afterEnd && !b.pastEnd[p.slice].Swap(true) {
				w.log.Warnf("the Events API returned events after the end_time of a backfill slice (%s); ending the slice there", formatTime(end))
			}
			b.progress.published(pagePosition{
				slice:         p.slice,
				cursor:        p.page.Cursor,
				final:         slice && (!p.page.HasMore || afterEnd),
				lastEventTime: newest,
			}, len(kept))
		}
		if len(kept) > 0 {
			client.PublishAll(kept)
		}
		// While slices remain, the tail chain's events (the newest there
		// are) say nothing about how far the backlog has been read.
		reported := newest
		if !slice && b.slicesRead.Load() < int64(len(b.plan.slices)) {
			reported = time.Time{}
		}
		w.cfg.Metrics.published(len(kept), reported)
	}
	if len(p.page.Items) == 0 {
		emit(nil, true)
		return
	}
	w.mapChunks(p.page, p.received, func(events []beat.Event, last bool) {
		kept := events[:0]
		for _, ev := range events {
			if ev.Timestamp.After(newest) {
				newest = ev.Timestamp
			}
			afterEnd = afterEnd && ev.Timestamp.After(end)
			if b.duplicateAtSeam(ev) {
				continue
			}
			kept = append(kept, ev)
		}
		emit(kept, last)
	})
}

// duplicateAtSeam reports whether ev lies on a seam and an event with its
// document id was already published there.
func (b *backfill) duplicateAtSeam(ev beat.Event) bool {
	ts := ev.Timestamp
	if _, ok := b.seamPoints[ts.UnixNano()]; !ok && (ts.Before(b.seamFrom) || ts.After(b.seamTo)) {
		return false
	}
	id, _ := ev.Meta["_id"].(string)
	if id == "" {
		return false
	}
	if _, dup := b.seen[id]; dup {
		return true
	}
	if len(b.seen) >= maxSeamIDs {
		if !b.seenFull {
			b.seenFull = true
			b.w.log.Warnf("more than %d events on backfill seams; further ones are not deduplicated and may be sent twice", maxSeamIDs)
		}
		return false
	}
	b.seen[id] = struct{}{}
	return false
}

// pagePosition is where a published page leaves its chain.
type pagePosition struct {
	slice         int
	cursor        string
	final         bool
	lastEventTime time.Time
	// through is the number of events published up to and including this
	// page.
	through uint64
}

// backfillProgress is what has been acknowledged: the committed cursor of
// every chain and the slices done. It is fed by the publish loop and by
// libbeat's ACK goroutine, and read by the commit loop.
type backfillProgress struct {
	w *Worker

	mu         sync.Mutex
	sentEvents uint64 // events handed to the pipeline
	acked      uint64
	waiting    []pagePosition // published, not yet acknowledged, in order
	slices     []state.Slice  // the plan's slices with committed cursors
	done       []bool
	doneCount  int
	tailStart  time.Time
	tail       string
	// newest is the newest event time known acknowledged before this run;
	// sliceNewest and tailNewest those of each chain's acknowledged pages.
	newest      time.Time
	sliceNewest []time.Time
	tailNewest  time.Time
	dirty       bool
	complete    bool // every slice done, reported once
	signal      chan struct{}
}

func newBackfillProgress(w *Worker, plan *backfillPlan) *backfillProgress {
	return &backfillProgress{
		w:           w,
		slices:      append([]state.Slice(nil), plan.slices...),
		done:        make([]bool, len(plan.slices)),
		sliceNewest: make([]time.Time, len(plan.slices)),
		tailStart:   plan.tailStart,
		tail:        plan.tailCursor,
		newest:      plan.lastEventTime,
		signal:      make(chan struct{}, 1),
	}
}

// sent records n events of a page, about to be published before the
// page's last chunk.
func (p *backfillProgress) sent(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sentEvents += uint64(n)
}

// published records a page whose n last events are about to be published.

func (p *backfillProgress) published(pos pagePosition, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sentEvents += uint64(n)
	pos.through = p.sentEvents
	if p.acked >= pos.through {
		p.applyLocked(pos)
		return
	}
	p.waiting = append(p.waiting, pos)
}

// onACK is the ACK listener: data has one entry per acknowledged event, in
// publish order.
func (p *backfillProgress) onACK(_ int, data []interface{}) {
	p.w.cfg.Metrics.EventsAcked.Add(uint64(len(data)))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acked += uint64(len(data))
	n := 0
	for n < len(p.waiting) && p.waiting[n].through <= p.acked {
		p.applyLocked(p.waiting[n])
		n++
	}
	if n > 0 {
		p.waiting = append(p.waiting[:0], p.waiting[n:]...)
	}
}

func (p *backfillProgress) applyLocked(pos pagePosition) {
	if pos.slice == tailChain {
		p.tail = pos.cursor
		p.tailNewest = later(p.tailNewest, pos.lastEventTime)
	} else if !p.done[pos.slice] {
		p.sliceNewest[pos.slice] = later(p.sliceNewest[pos.slice], pos.lastEventTime)
		p.slices[pos.slice].Cursor = pos.cursor
		if pos.final {
			p.done[pos.slice] = true
			p.doneCount++
		}
	}
	p.dirty = true
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// snapshot returns the state to write, if there is anything new worth
// writing: nothing is written before the first event is acknowledged.
func (p *backfillProgress) snapshot() (state.State, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.dirty || p.acked == 0 {
		return state.State{}, false
	}
	p.dirty = false
	st := state.State{
		Stream:        p.w.cfg.Type.Name,
		APIVersion:    p.w.cfg.APIVersion,
		Cursor:        p.tail,
		LastEventTime: p.watermarkLocked(),
		UpdatedAt:     p.w.cfg.Now().UTC(),
		Replay:        p.w.cfg.ReplayState,
	}
	if p.doneCount < len(p.slices) || p.tail == "" {
		bf := &state.Backfill{TailStart: p.tailStart, Pending: []state.Slice{}}
		for i, s := range p.slices {
			if !p.done[i] {
				bf.Pending = append(bf.Pending, s)
			}
		}
		st.Backfill = bf
	}
	return st, true
}

// watermarkLocked is the state's last_event_time: a time up to which every
// event is acknowledged, as with a single cursor chain. It is the newest
// acknowledged event of the done slices before the oldest pending one and
// of that slice's acknowledged pages; once every slice is done, of all
// chains.
func (p *backfillProgress) watermarkLocked() time.Time {
	w := p.newest
	for i, t := range p.sliceNewest {
		w = later(w, t)
		if !p.done[i] {
			return w
		}
	}
	return later(w, p.tailNewest)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// outstanding returns the number of events not yet acknowledged.
func (p *backfillProgress) outstanding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.sentEvents - p.acked)
}

// commitLoop persists the progress as it changes until ctx ends.
func (b *backfill) commitLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.progress.signal:
			b.commit()
		}
	}
}

// commit writes the acknowledged progress, if it changed.
func (b *backfill) commit() {
	w := b.w
	st, ok := b.progress.snapshot()
	if !ok {
		return
	}
	if err := state.Save(w.cfg.StatePath, st); err != nil {
		// Kept in memory; the next change writes again. After a crash the
		// older file is resumed: at least once, never a gap.
		b.progress.mu.Lock()
		b.progress.dirty = true
		b.progress.mu.Unlock()
		w.cfg.Metrics.CommitErrors.Inc()
		w.log.Errorf("cannot persist the backfill progress: %v", err)
		return
	}
	w.cfg.Metrics.committed(st.LastEventTime)
	if st.Backfill == nil {
		b.progress.mu.Lock()
		first := !b.progress.complete
		b.progress.complete = true
		b.progress.mu.Unlock()
		if first {
			w.log.Infof("parallel backfill complete after %s; the stream continues from the live cursor", w.cfg.Now().Sub(b.started).Round(time.Second))
		}
	}
}
