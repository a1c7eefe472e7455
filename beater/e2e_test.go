package beater_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/monitoring"
	"github.com/elastic/go-lumber/server"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

const perType = 2500

func fileOutput(dir string) map[string]any {
	return map[string]any{"path": dir, "filename": "events", "rotate_every_kb": 1 << 20}
}

// checkOnce asserts that the documents hold every simulator event exactly
// once, with the fields that tie them to it.
func checkOnce(t *testing.T, a *account, docs []doc) {
	t.Helper()
	seen := map[string]int{}
	byID := map[string]doc{}
	for _, d := range docs {
		id := d.str("@metadata._id")
		seen[id]++
		byID[id] = d
	}
	total := 0
	for _, typ := range all.Types() {
		events := a.sim.Events(typ.Name)
		total += len(events)
		missing := 0
		for _, ev := range events {
			id := typ.Name + "-" + ev.UUID
			d, ok := byID[id]
			if !ok {
				missing++
				continue
			}
			if seen[id] != 1 {
				t.Errorf("%s: event %s arrived %d times", typ.Name, ev.UUID, seen[id])
			}
			if got := d.str("event.id"); got != ev.UUID {
				t.Errorf("%s: event.id = %q, want %q", id, got, ev.UUID)
			}
			if got := d.str("@metadata.event_type"); got != typ.Name {
				t.Errorf("%s: @metadata.event_type = %q", id, got)
			}
			if got := d.str("event.dataset"); got != typ.Dataset {
				t.Errorf("%s: event.dataset = %q, want %q", id, got, typ.Dataset)
			}
			// The document is what the type's mapping makes of the item.
			want, err := typ.Map(ev.JSON, module.MapOptions{Received: time.Now()})
			if err != nil {
				t.Fatalf("%s: mapping the simulator's item: %v", id, err)
			}
			for _, key := range []string{"event.action", "event.outcome", "event.reason", "user.id", "user.email", "user.full_name", "source.ip", "source.geo.city_name", "host.os.name", "onepassword.uuid", "onepassword.object_type", "onepassword.vault_uuid"} {
				v, _ := want.Fields.GetValue(key)
				wantStr := ""
				if v != nil {
					wantStr = fmt.Sprint(v)
				}
				if got := d.str(key); got != wantStr {
					t.Errorf("%s: %s = %q, want %q", id, key, got, wantStr)
				}
			}
			ts, err := time.Parse(time.RFC3339Nano, d.str("@timestamp"))
			// The file output writes milliseconds.
			if err != nil || !ts.Equal(ev.Timestamp.Truncate(time.Millisecond)) {
				t.Errorf("%s: @timestamp = %q, want %s", id, d.str("@timestamp"), ev.Timestamp)
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d events missing", typ.Name, missing, len(events))
		}
	}
	if len(docs) != total {
		t.Errorf("%d documents for %d simulator events", len(docs), total)
	}
}

// TestEndToEndFileOutput runs the beat on a real libbeat pipeline into the
// file output against the simulator: every event arrives once; after a
// restart the beat continues from the stored cursors, sends nothing twice,
// and picks up events that arrived in between.
func TestEndToEndFileOutput(t *testing.T) {
	// One new event per type arrives each (simulated) hour.
	a := newAccount(t, perType, simulator.Config{LiveInterval: time.Hour})
	stateDir, outDir := t.TempDir(), t.TempDir()
	section := a.beatConfig(stateDir, nil)

	want := 3 * perType
	r := startBeat(t, section, "file", fileOutput(outDir))
	waitFor(t, "the backfill to reach the file output", 60*time.Second, func() bool { return len(readDocs(t, outDir)) >= want })
	for _, typ := range all.Types() {
		waitFor(t, typ.ConfigKey+" cursor commit", 10*time.Second, func() bool {
			return r.metric(typ.ConfigKey, "events.acked") == perType && r.metric(typ.ConfigKey, "cursor.commits") > 0
		})
	}
	assertNoToken(t, a.token, "the metrics", metricsJSON(t, r))
	r.stop()
	checkOnce(t, a, readDocs(t, outDir))

	cursors := map[string]string{}
	for _, typ := range all.Types() {
		st, err := state.Load(filepath.Join(stateDir, typ.Name+".state"))
		if err != nil {
			t.Fatalf("%s state after stop: %v", typ.Name, err)
		}
		if st.Stream != typ.Name || st.APIVersion != "v2" || st.LastEventTime.IsZero() {
			t.Errorf("%s state = %+v", typ.Name, st)
		}
		cursors[typ.Name] = st.Cursor
		raw, err := os.ReadFile(filepath.Join(stateDir, typ.Name+".state"))
		if err != nil {
			t.Fatal(err)
		}
		assertNoToken(t, a.token, typ.Name+" state file", string(raw))
	}

	// New activity while the beat is down, then a restart.
	a.clock.Advance(5*time.Hour + time.Minute)
	want += 3 * 5
	r2 := startBeat(t, section, "file", fileOutput(outDir))
	waitFor(t, "the new events after restart", 30*time.Second, func() bool { return len(readDocs(t, outDir)) >= want })
	for _, typ := range all.Types() {
		waitFor(t, typ.ConfigKey+" commit after restart", 10*time.Second, func() bool {
			return r2.metric(typ.ConfigKey, "cursor.commits") > 0
		})
	}
	r2.stop()
	docs := readDocs(t, outDir)
	checkOnce(t, a, docs)
	for _, typ := range all.Types() {
		st, err := state.Load(filepath.Join(stateDir, typ.Name+".state"))
		if err != nil || st.Cursor == cursors[typ.Name] {
			t.Errorf("%s: cursor did not advance past the new events (err %v)", typ.Name, err)
		}
	}
}

// TestCursorWaitsForOutputACK uses the Logstash output against a real
// Lumberjack server that holds its ACK: while the output has not
// acknowledged, no cursor is written, and a stop in that state leaves no
// cursor; once the server acknowledges, the cursor is written.
func TestCursorWaitsForOutputACK(t *testing.T) {
	a := newAccount(t, 0, simulator.Config{Events: map[string]int{"itemusages": 300}})
	stateDir := t.TempDir()
	// Stop without waiting long for ACKs that will never come.
	section := a.beatConfig(stateDir, map[string]any{"shutdown_timeout": "100ms"})
	for _, typ := range all.Types() {
		if typ.Name != "itemusages" {
			delete(section, typ.ConfigKey)
		}
	}
	statePath := filepath.Join(stateDir, "itemusages.state")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewWithListener(l, server.V2(true))
	if err != nil {
		t.Fatal(err)
	}
	output := map[string]any{"hosts": []string{l.Addr().String()}, "bulk_max_size": 100}

	// Run 1: the server receives batches but never acknowledges; stop.
	r := startBeat(t, section, "logstash", output)
	batch := <-srv.ReceiveChan()
	if len(batch.Events) == 0 {
		t.Fatal("empty first batch")
	}
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("a cursor was written before the output acknowledged anything (stat err %v)", err)
	}
	if got := r.metric("item_usages", "events.acked"); got != 0 {
		t.Fatalf("events.acked = %d before any ACK", got)
	}
	// Close the server first: libbeat's client would otherwise wait on its
	// keepalive ACKs during shutdown.
	srv.Close()
	r.stop()
	if _, err := os.Stat(statePath); !os.IsNotExist(err) {
		t.Fatalf("stopping with unacknowledged events wrote a cursor (stat err %v)", err)
	}

	// Run 2: a server that acknowledges every batch receives all 300 events
	// (from the start: nothing was committed), then the cursor is written.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := server.NewWithListener(l2, server.V2(true))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	output["hosts"] = []string{l2.Addr().String()}
	r2 := startBeat(t, section, "logstash", output)
	got := map[string]bool{}
	for len(got) < 300 {
		b := <-srv2.ReceiveChan()
		if _, err := os.Stat(statePath); len(got) == 0 && !os.IsNotExist(err) {
			t.Fatalf("cursor written before the first ACK (stat err %v)", err)
		}
		for _, e := range b.Events {
			m := e.(map[string]any)
			meta, _ := m["@metadata"].(map[string]any)
			id, _ := meta["_id"].(string)
			got[id] = true
		}
		b.ACK()
	}
	waitFor(t, "the cursor after the ACKs", 10*time.Second, func() bool {
		_, err := state.Load(statePath)
		return err == nil && r2.metric("item_usages", "events.acked") == 300
	})
	for _, ev := range a.sim.Events("itemusages") {
		if !got["itemusages-"+ev.UUID] {
			t.Errorf("event %s never reached Logstash", ev.UUID)
		}
	}
}

// metricsJSON is the beat's whole monitoring registry as /stats shows it.
func metricsJSON(t *testing.T, r *running) string {
	t.Helper()
	data, err := json.Marshal(monitoring.CollectStructSnapshot(r.reg, monitoring.Full, true))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// assertNoToken fails if the token, or its signature part, appears in text.
func assertNoToken(t *testing.T, token, what, text string) {
	t.Helper()
	parts := strings.Split(token, ".")
	for _, secret := range []string{token, parts[len(parts)-1]} {
		if strings.Contains(text, secret) {
			t.Fatalf("%s contain the token", what)
		}
	}
}
