package beater_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/elastic/go-lumber/server"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// outageQueueSize is libbeat's default memory queue size (queue.mem.events)
// and outagePageSize the page limit of beatConfig's starting_cursor. A
// blocked worker may hold outageMaxHeldPages pages it fetched and could not
// publish: the one blocked in publish, one handed to the publish loop and one
// fetched ahead.
const (
	outageQueueSize    = 3200
	outagePageSize     = 1000
	outageMaxHeldPages = 3
)

// TestOutputOutageThenRecovery starts the beat while its Logstash output is
// down: the streams fill the memory queue and block, nothing is acknowledged
// and no cursor is written. Once a Lumberjack server appears on the address
// and acknowledges every batch, every event arrives, the cursors are written
// at the end of the data, and the events in flight never exceeded the queue
// plus one page.
func TestOutputOutageThenRecovery(t *testing.T) {
	// Each stream holds more than the queue and the pages a blocked worker
	// holds can take, so both must block before reaching the end.
	counts := map[string]int{"itemusages": 9000, "signinattempts": 8000}
	a := newAccount(t, 0, simulator.Config{Events: counts})
	stateDir := t.TempDir()
	// One cursor chain per stream, whose pages are full: the bounds below
	// count whole pages. (The parallel backfill's bound on held pages is
	// tested in internal/stream, TestBackfillSlowOutput.)
	section := a.beatConfig(stateDir, map[string]any{"shutdown_timeout": "100ms", "backfill.parallel_slices": 1})
	var types []string // the event types that run
	keys := map[string]string{}
	for _, typ := range all.Types() {
		if _, ok := counts[typ.Name]; !ok {
			delete(section, typ.ConfigKey)
			continue
		}
		types = append(types, typ.Name)
		keys[typ.Name] = typ.ConfigKey
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	statePath := func(typ string) string { return filepath.Join(stateDir, typ+".state") }

	// An address where nothing listens (yet).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	output := map[string]any{
		"hosts":         []string{addr},
		"bulk_max_size": 500,
		// Reconnect promptly once the server is there.
		"backoff.init": "50ms",
		"backoff.max":  "250ms",
	}

	r := startBeat(t, section, "logstash", output)

	// Sample the events in flight (published, not acknowledged) for the
	// whole test.
	var maxInFlight atomic.Int64
	sample := func() {
		var inFlight int64
		for _, typ := range types {
			inFlight += r.metric(keys[typ], "events.published") - r.metric(keys[typ], "events.acked")
		}
		for {
			cur := maxInFlight.Load()
			if inFlight <= cur || maxInFlight.CompareAndSwap(cur, inFlight) {
				return
			}
		}
	}
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
	endSampling := sync.OnceFunc(func() { close(stopSampling); sampler.Wait() })
	defer endSampling()

	// Outage: wait until the streams have published something and then
	// neither publish more nor ask the API for more, for a whole second.
	published := func() map[string]int64 {
		m := map[string]int64{}
		for _, typ := range types {
			m[typ] = r.metric(keys[typ], "events.published")
		}
		return m
	}
	waitFor(t, "the first page to be published", 20*time.Second, func() bool {
		for _, n := range published() {
			if n > 0 {
				return true
			}
		}
		return false
	})
	const stableFor = time.Second
	var blocked map[string]int64
	var served simulator.Stats
	lastChange, last, lastReqs := time.Now(), published(), a.sim.Stats().Requests
	waitFor(t, "the streams to block on the full queue", 20*time.Second, func() bool {
		now, reqs := published(), a.sim.Stats().Requests
		if fmt.Sprint(now) != fmt.Sprint(last) || reqs != lastReqs {
			last, lastReqs, lastChange = now, reqs, time.Now()
			return false
		}
		if time.Since(lastChange) < stableFor {
			return false
		}
		blocked, served = now, a.sim.Stats()
		return true
	})
	var sum int64
	for _, typ := range types {
		n := blocked[typ]
		sum += n
		if n >= int64(counts[typ]) {
			t.Errorf("%s: %d of %d events published with the output down", typ, n, counts[typ])
		}
		// The worker holds the page it cannot hand over, and at most a
		// couple more fetched ahead: the API served at least one page and
		// at most outageMaxHeldPages pages more than the stream published.
		if got := int64(served.ItemsServed[typ]); got < n+outagePageSize || got > n+outageMaxHeldPages*outagePageSize {
			t.Errorf("%s: the API served %d events and the stream published %d; want 1 to %d pages held by the blocked worker", typ, got, n, outageMaxHeldPages)
		}
		if got := r.metric(keys[typ], "events.acked"); got != 0 {
			t.Errorf("%s: events.acked = %d with the output down", typ, got)
		}
		if got := r.metric(keys[typ], "cursor.commits"); got != 0 {
			t.Errorf("%s: cursor.commits = %d with the output down", typ, got)
		}
		if _, err := os.Stat(statePath(typ)); !os.IsNotExist(err) {
			t.Errorf("%s: a cursor state file exists with the output down (stat err %v)", typ, err)
		}
	}
	// Blocked because the queue is full: it holds what was published plus
	// the parts of the blocked pages it took.
	if sum > outageQueueSize || sum <= int64(outageQueueSize-len(types)*outagePageSize) {
		t.Errorf("%d events published with the output down; a full queue of %d explains %d..%d", sum, outageQueueSize, outageQueueSize-len(types)*outagePageSize+1, outageQueueSize)
	}
	t.Logf("output down: published %v (%d in all, queue %d), API served %v, nothing acknowledged, no cursor", blocked, sum, outageQueueSize, served.ItemsServed)
	if t.Failed() {
		t.FailNow()
	}

	// Recovery: a Lumberjack server on the same address that acknowledges
	// every batch as it arrives.
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	srv, err := server.NewWithListener(l2, server.V2(true))
	if err != nil {
		t.Fatal(err)
	}
	closeServer := sync.OnceFunc(func() { srv.Close() })
	defer closeServer()
	recovered := time.Now()
	seen := map[string]int{}
	received, batches := 0, 0
	var firstBatch time.Duration
	deadline := time.After(60 * time.Second)
	for len(seen) < total {
		select {
		case b := <-srv.ReceiveChan():
			batches++
			if batches == 1 {
				firstBatch = time.Since(recovered)
			}
			for _, e := range b.Events {
				m, _ := e.(map[string]any)
				meta, _ := m["@metadata"].(map[string]any)
				id, _ := meta["_id"].(string)
				seen[id]++
				received++
			}
			sample()
			b.ACK()
		case <-deadline:
			t.Fatalf("after 60s the server has %d of %d events (%d batches)", len(seen), total, batches)
		}
	}
	t.Logf("output back: first batch after %s, %d events in %d batches (%d distinct) in %s", firstBatch.Round(time.Millisecond), received, batches, len(seen), time.Since(recovered).Round(time.Millisecond))

	// Every event arrived.
	for _, typ := range types {
		missing := 0
		for _, ev := range a.sim.Events(typ) {
			if seen[typ+"-"+ev.UUID] == 0 {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d events never reached Logstash", typ, missing, counts[typ])
		}
	}
	if dups := received - len(seen); dups > 0 {
		t.Logf("%d event(s) were delivered more than once", dups)
	}
	if len(seen) != total {
		t.Errorf("%d distinct _id received for %d simulator events", len(seen), total)
	}

	// Then the cursors are written, at the end of the data.
	for _, typ := range types {
		waitFor(t, typ+" cursor after the ACKs", 10*time.Second, func() bool {
			if r.metric(keys[typ], "events.acked") != int64(counts[typ]) {
				return false
			}
			st, err := state.Load(statePath(typ))
			return err == nil && atEnd(t, a, typ, st.Cursor)
		})
	}
	endSampling()
	sample()
	if got := maxInFlight.Load(); got > outageQueueSize+outagePageSize {
		t.Errorf("up to %d events were in flight, more than the queue (%d) plus one page (%d)", got, outageQueueSize, outagePageSize)
	} else {
		t.Logf("at most %d events in flight (bound %d)", got, outageQueueSize+outagePageSize)
	}

	// Close the server first: libbeat's client would otherwise wait on its
	// keepalive ACKs during shutdown. Then the beat must stop promptly.
	closeServer()
	stopped := make(chan struct{})
	go func() { r.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("the beat did not stop within 15s")
	}
	for _, typ := range types {
		st, err := state.Load(statePath(typ))
		if err != nil || !atEnd(t, a, typ, st.Cursor) {
			t.Errorf("%s: after stop the cursor is not at the end of the data (err %v)", typ, err)
		}
	}
}

// atEnd reports whether cursor is caught up: the simulator serves no event
// after it.
func atEnd(t *testing.T, a *account, typ, cursor string) bool {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"cursor": cursor})
	req, err := http.NewRequest(http.MethodPost, a.baseURL+"/api/v2/"+typ, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		HasMore bool              `json:"has_more"`
		Items   []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("probing the %s cursor: status %d, err %v", typ, resp.StatusCode, err)
	}
	return len(page.Items) == 0 && !page.HasMore
}
