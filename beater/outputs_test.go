package beater_test

import (
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// This file holds what the end-to-end tests of the network outputs
// (Elasticsearch, Logstash, Redis, Kafka) share: counting what a peer
// received, by document id, and checking that cursors follow delivery.

// received counts the copies of each document an output peer received, by
// its id (`@metadata._id`, or the `_id` of an Elasticsearch bulk action).
type received struct {
	mu     sync.Mutex
	copies map[string]int
}

func newReceived() *received { return &received{copies: map[string]int{}} }

func (r *received) add(id string) {
	r.mu.Lock()
	r.copies[id]++
	r.mu.Unlock()
}

func (r *received) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copies[id] > 0
}

// distinct is the number of different ids received.
func (r *received) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.copies)
}

func (r *received) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]int, len(r.copies))
	for k, v := range r.copies {
		m[k] = v
	}
	return m
}

// streamKeys maps the event types that run to their configuration keys.
func streamKeys(types []string) map[string]string {
	keys := map[string]string{}
	for _, typ := range all.Types() {
		keys[typ.Name] = typ.ConfigKey
	}
	out := map[string]string{}
	for _, name := range types {
		out[name] = keys[name]
	}
	return out
}

// onlyStreams removes every stream but the named event types from a
// beatConfig section.
func onlyStreams(section map[string]any, types ...string) map[string]any {
	keep := streamKeys(types)
	for _, typ := range all.Types() {
		if _, ok := keep[typ.Name]; !ok {
			delete(section, typ.ConfigKey)
		}
	}
	return section
}

// totalEvents is the number of simulator events of the named types.
func totalEvents(a *account, types []string) int {
	n := 0
	for _, typ := range types {
		n += len(a.sim.Events(typ))
	}
	return n
}

// checkExactlyOnce asserts that the peer received every simulator event of
// the named types exactly once and nothing else.
func checkExactlyOnce(t *testing.T, a *account, types []string, copies map[string]int) {
	t.Helper()
	want := map[string]bool{}
	for _, typ := range types {
		missing, dups := 0, 0
		for _, ev := range a.sim.Events(typ) {
			id := typ + "-" + ev.UUID
			want[id] = true
			switch n := copies[id]; {
			case n == 0:
				missing++
			case n > 1:
				dups++
				if dups <= 3 {
					t.Errorf("%s arrived %d times", id, n)
				}
			}
		}
		if missing > 0 || dups > 0 {
			t.Errorf("%s: %d of %d events missing, %d arrived more than once", typ, missing, len(a.sim.Events(typ)), dups)
		}
	}
	var unknown []string
	for id := range copies {
		if !want[id] {
			unknown = append(unknown, id)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		t.Errorf("%d documents that are no simulator event, e.g. %q", len(unknown), unknown[0])
	}
}

// waitCaughtUp waits until every named stream had all its simulator events
// acknowledged and its cursor file is at the end of the data.
func waitCaughtUp(t *testing.T, a *account, r *running, stateDir string, types []string) {
	t.Helper()
	for name, key := range streamKeys(types) {
		n := int64(len(a.sim.Events(name)))
		waitFor(t, name+" acknowledged and committed at the end", 30*time.Second, func() bool {
			if r.metric(key, "events.acked") < n {
				return false
			}
			st, err := state.Load(filepath.Join(stateDir, name+".state"))
			// A parallel backfill is at the end once every slice is
			// acknowledged and the state is the tail's cursor alone.
			return err == nil && st.Backfill == nil && atEnd(t, a, name, st.Cursor)
		})
	}
}

// commitAuditor watches the streams' cursor files while a test runs. Each
// time it sees a new cursor, it checks that the peer already holds every
// event of that stream older than the committed last event time: a cursor
// may only move past events the output acknowledged. The peer only gains
// documents, so a check made after the commit can only see more than the
// output had acknowledged when the cursor was written, never less. When the
// test's view of the peer lags behind the peer (a Kafka consumer), catchUp,
// if not nil, brings the view up to at least what the peer holds now; it is
// called before an event is reported missing.
type commitAuditor struct {
	t       *testing.T
	streams int
	stop    chan struct{}
	done    chan struct{}
	audited atomic.Int64
}

func auditCommits(t *testing.T, a *account, stateDir string, types []string, peer *received, catchUp func()) *commitAuditor {
	t.Helper()
	events := map[string][]time.Time{}
	ids := map[string][]string{}
	for _, typ := range types {
		for _, ev := range a.sim.Events(typ) {
			events[typ] = append(events[typ], ev.Timestamp)
			ids[typ] = append(ids[typ], typ+"-"+ev.UUID)
		}
	}
	c := &commitAuditor{t: t, streams: len(types), stop: make(chan struct{}), done: make(chan struct{})}
	last := map[string]string{}
	check := func() {
		for _, typ := range types {
			st, err := state.Load(filepath.Join(stateDir, typ+".state"))
			if err != nil || st.Cursor == last[typ] {
				continue
			}
			last[typ] = st.Cursor
			c.audited.Add(1)
			missing := func() int {
				for i, ts := range events[typ] {
					if ts.Before(st.LastEventTime) && !peer.has(ids[typ][i]) {
						return i
					}
				}
				return -1
			}
			i := missing()
			if i >= 0 && catchUp != nil {
				catchUp()
				i = missing()
			}
			if i >= 0 {
				t.Errorf("%s: cursor committed up to %s while the output had not received %s (%s)", typ, st.LastEventTime, ids[typ][i], events[typ][i])
			}
		}
	}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-c.stop:
				check() // the final cursors, whenever the last tick was
				return
			case <-tick.C:
			}
			check()
		}
	}()
	t.Cleanup(func() { c.finish() })
	return c
}

// finish stops the watcher and returns how many commits it checked; at
// least one per stream, or the audit checked nothing.
func (c *commitAuditor) finish() int64 {
	select {
	case <-c.stop:
		<-c.done
		return c.audited.Load()
	default:
		close(c.stop)
	}
	<-c.done
	n := c.audited.Load()
	if n < int64(c.streams) {
		c.t.Errorf("the commit audit saw %d cursor commits for %d streams: it checked nothing", n, c.streams)
	}
	return n
}
