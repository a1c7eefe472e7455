package beater_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/elastic/mock-es/pkg/api"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// esPeer is mock-es, Elastic's fake Elasticsearch used by the Beats' own
// tests, answering every bulk item the way a real index answers op_type
// create: the first create of an _id stores the document (201), a later one
// is a conflict (409). The first create of the first throttleFirst ids is
// answered 429, as a busy cluster does. It can hold the first bulk request
// until the test releases it.
type esPeer struct {
	t             *testing.T
	url           string
	throttleFirst int
	stored        *received

	mu        sync.Mutex
	creates   map[string]int    // create actions per _id
	conflicts map[string]int    // 409 answers per _id
	throttled map[string]bool   // _ids answered 429 once
	index     map[string]string // _index of each stored _id
	problems  []string          // actions that are not what the beat must send

	held     chan struct{} // closed when the first bulk request arrived
	heldOnce sync.Once
	release  chan struct{} // closed when bulk requests may be answered
}

type esClusterUUID string

func (u esClusterUUID) String() string { return string(u) }

func newESPeer(t *testing.T, throttleFirst int, hold bool) *esPeer {
	t.Helper()
	p := &esPeer{
		t: t, throttleFirst: throttleFirst, stored: newReceived(),
		creates: map[string]int{}, conflicts: map[string]int{}, throttled: map[string]bool{}, index: map[string]string{},
		held: make(chan struct{}), release: make(chan struct{}),
	}
	if !hold {
		close(p.release)
	}
	mock := api.NewDeterministicAPIHandler(esClusterUUID("eventsapibeat-test"), "eventsapibeat-test-cluster", nil, time.Now().Add(24*time.Hour), 0, 0, p.decide)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/_bulk" {
			p.heldOnce.Do(func() { close(p.held) })
			select {
			case <-p.release:
			case <-r.Context().Done():
				return
			}
		}
		mock.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// datasetType maps event.dataset to the event type that makes the _id.
var datasetType = func() map[string]string {
	m := map[string]string{}
	for _, typ := range all.Types() {
		m[typ.Dataset] = typ.Name
	}
	return m
}()

// decide answers one bulk item.
func (p *esPeer) decide(action api.Action, source []byte) int {
	var meta struct {
		ID    string `json:"_id"`
		Index string `json:"_index"`
	}
	var doc struct {
		Event struct {
			ID      string `json:"id"`
			Dataset string `json:"dataset"`
		} `json:"event"`
	}
	metaErr := json.Unmarshal(action.Meta, &meta)
	docErr := json.Unmarshal(source, &doc)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case action.Action != "create":
		p.problems = append(p.problems, fmt.Sprintf("bulk action %q (%s), want create", action.Action, action.Meta))
		return http.StatusBadRequest
	case metaErr != nil || docErr != nil:
		p.problems = append(p.problems, fmt.Sprintf("unreadable bulk item %s %s", action.Meta, source))
		return http.StatusBadRequest
	case meta.ID != datasetType[doc.Event.Dataset]+"-"+doc.Event.ID:
		p.problems = append(p.problems, fmt.Sprintf("_id %q for a %s document with event.id %s", meta.ID, doc.Event.Dataset, doc.Event.ID))
		return http.StatusBadRequest
	}
	p.creates[meta.ID]++
	if len(p.throttled) < p.throttleFirst && !p.throttled[meta.ID] && !p.stored.has(meta.ID) {
		p.throttled[meta.ID] = true
		return http.StatusTooManyRequests
	}
	if p.stored.has(meta.ID) {
		p.conflicts[meta.ID]++
		return http.StatusConflict
	}
	p.stored.add(meta.ID)
	p.index[meta.ID] = meta.Index
	return http.StatusCreated
}

// snapshot copies the per-_id counters.
func (p *esPeer) snapshot() (creates, conflicts map[string]int, throttled map[string]bool, index map[string]string, problems []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	creates, conflicts, throttled, index = map[string]int{}, map[string]int{}, map[string]bool{}, map[string]string{}
	for k, v := range p.creates {
		creates[k] = v
	}
	for k, v := range p.conflicts {
		conflicts[k] = v
	}
	for k, v := range p.throttled {
		throttled[k] = v
	}
	for k, v := range p.index {
		index[k] = v
	}
	return creates, conflicts, throttled, index, append([]string(nil), p.problems...)
}

// TestElasticsearchOutput runs the beat into mock-es with the 2.x index
// layout of the README. Every bulk item is a create with the document's
// stable _id; items answered 429 are sent again until stored; the cursor is
// written only after the bulk response; every event is stored exactly once.
// Then the cursors are lost and the beat replays everything: the old events
// are answered 409, counted as duplicates and not sent again, the new ones
// are stored, and the cursors are written at the end.
func TestElasticsearchOutput(t *testing.T) {
	types := []string{"signinattempts", "itemusages", "auditevents"}
	a := newAccount(t, 0, simulator.Config{
		Events:       map[string]int{"signinattempts": 1500, "itemusages": 2000, "auditevents": 700},
		LiveInterval: time.Hour,
	})
	stateDir := t.TempDir()
	section := a.beatConfig(stateDir, nil)
	const throttle = 40
	peer := newESPeer(t, throttle, true)
	output := map[string]any{
		"hosts":         []string{peer.url},
		"index":         "%{[agent.type]}-%{[agent.version]}-%{[@metadata][event_type]}-%{+yyyy.MM}",
		"bulk_max_size": 250,
		"backoff.init":  "10ms",
		"backoff.max":   "100ms",
	}
	setup := map[string]any{
		"setup.ilm.enabled":      false,
		"setup.template.name":    "eventsapibeat",
		"setup.template.pattern": "eventsapibeat-*",
	}

	r := startBeatWithSetup(t, section, "elasticsearch", output, setup)
	audit := auditCommits(t, a, stateDir, types, peer.stored, nil)

	// The first bulk request is held: nothing is acknowledged, no cursor.
	select {
	case <-peer.held:
	case <-time.After(30 * time.Second):
		t.Fatal("no bulk request within 30s")
	}
	for name, key := range streamKeys(types) {
		if _, err := os.Stat(filepath.Join(stateDir, name+".state")); !os.IsNotExist(err) {
			t.Errorf("%s: a cursor was written before Elasticsearch answered a bulk request (stat err %v)", name, err)
		}
		if got := r.metric(key, "events.acked"); got != 0 {
			t.Errorf("%s: events.acked = %d before any bulk response", name, got)
		}
	}
	close(peer.release)

	total := totalEvents(a, types)
	waitFor(t, "every event stored", 60*time.Second, func() bool { return peer.stored.distinct() >= total })
	waitCaughtUp(t, a, r, stateDir, types)
	tooMany, dups := r.libbeatMetric("output.events.toomany"), r.libbeatMetric("output.events.duplicates")
	r.stop()
	audited := audit.finish()

	creates, conflicts, throttled, index, problems := peer.snapshot()
	for _, p := range problems[:min(len(problems), 5)] {
		t.Error(p)
	}
	checkExactlyOnce(t, a, types, peer.stored.snapshot())
	if len(throttled) != throttle {
		t.Fatalf("%d items answered 429, want %d", len(throttled), throttle)
	}
	for id, n := range creates {
		want := 1
		if throttled[id] {
			want = 2 // the 429, then the retry that stored it
		}
		if n != want {
			t.Errorf("%s: %d create actions, want %d (429: %v)", id, n, want, throttled[id])
		}
	}
	if len(conflicts) != 0 || dups != 0 {
		t.Errorf("%d ids answered 409 (duplicates metric %d) without a replay", len(conflicts), dups)
	}
	if tooMany != throttle {
		t.Errorf("output.events.toomany = %d, want %d", tooMany, throttle)
	}
	for _, name := range types {
		for _, ev := range a.sim.Events(name) {
			id := name + "-" + ev.UUID
			want := fmt.Sprintf("%s-%s-%s-%s", beater.Name, beater.Version, name, ev.Timestamp.UTC().Format("2006.01"))
			if index[id] != want {
				t.Fatalf("%s went to index %q, want %q", id, index[id], want)
			}
		}
	}
	t.Logf("run 1: %d events stored once, %d answered 429 and retried, %d cursor commits audited", total, throttle, audited)
	if t.Failed() {
		t.FailNow()
	}

	// Replay: new activity, and the cursors are lost (as after a crash
	// between the bulk response and the commit), so everything is sent again.
	a.clock.Advance(3*time.Hour + time.Minute)
	for _, name := range types {
		if err := os.Remove(filepath.Join(stateDir, name+".state")); err != nil {
			t.Fatal(err)
		}
	}
	before := creates
	newTotal := totalEvents(a, types)
	if newTotal != total+3*len(types) {
		t.Fatalf("%d events after 3 simulated hours, want %d", newTotal, total+3*len(types))
	}
	r2 := startBeatWithSetup(t, section, "elasticsearch", output, setup)
	audit2 := auditCommits(t, a, stateDir, types, peer.stored, nil)
	waitFor(t, "the new events stored", 60*time.Second, func() bool { return peer.stored.distinct() >= newTotal })
	waitCaughtUp(t, a, r2, stateDir, types)
	dups, tooMany = r2.libbeatMetric("output.events.duplicates"), r2.libbeatMetric("output.events.toomany")
	r2.stop()
	audit2.finish()

	creates, conflicts, _, _, problems = peer.snapshot()
	for _, p := range problems[:min(len(problems), 5)] {
		t.Error(p)
	}
	checkExactlyOnce(t, a, types, peer.stored.snapshot())
	replayed, fresh := 0, 0
	for id, n := range creates {
		if old, ok := before[id]; ok {
			// Sent once more, answered 409, and not retried.
			replayed++
			if n != old+1 || conflicts[id] != 1 {
				t.Errorf("%s: %d create actions after %d, %d answered 409; want one more, answered 409 once", id, n, old, conflicts[id])
			}
			continue
		}
		fresh++
		if n != 1 || conflicts[id] != 0 {
			t.Errorf("new event %s: %d create actions, %d answered 409; want 1 and 0", id, n, conflicts[id])
		}
	}
	if replayed != total || fresh != newTotal-total {
		t.Errorf("replay sent %d old and %d new events, want %d and %d", replayed, fresh, total, newTotal-total)
	}
	if dups != int64(total) || tooMany != 0 {
		t.Errorf("replay: output.events.duplicates = %d (want %d), toomany = %d", dups, total, tooMany)
	}
	t.Logf("replay: %d events answered 409 and counted as duplicates, %d new events stored", replayed, fresh)
}

// TestElasticsearchOutputDefaultDataStream: with no index settings every
// document is created, with its _id, in the data stream whose template
// `setup` loads, eventsapibeat-<version>.
func TestElasticsearchOutputDefaultDataStream(t *testing.T) {
	types := []string{"auditevents"}
	a := newAccount(t, 0, simulator.Config{Events: map[string]int{"auditevents": 300}})
	stateDir := t.TempDir()
	section := onlyStreams(a.beatConfig(stateDir, nil), types...)
	peer := newESPeer(t, 0, false)
	r := startBeat(t, section, "elasticsearch", map[string]any{"hosts": []string{peer.url}})
	waitFor(t, "every event stored", 30*time.Second, func() bool { return peer.stored.distinct() >= 300 })
	waitCaughtUp(t, a, r, stateDir, types)
	r.stop()

	_, _, _, index, problems := peer.snapshot()
	for _, p := range problems[:min(len(problems), 5)] {
		t.Error(p)
	}
	checkExactlyOnce(t, a, types, peer.stored.snapshot())
	want := beater.Name + "-" + beater.Version
	for id, got := range index {
		if got != want {
			t.Fatalf("%s created in %q, want the data stream %q", id, got, want)
		}
	}
}
