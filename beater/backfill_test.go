package beater_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// backfillSection is the beat configuration for a parallel backfill of the
// item usages alone, in pages of 100 so that it takes many requests, with
// no rate limit in the way.
func backfillSection(a *account, stateDir string) map[string]any {
	section := a.beatConfig(stateDir, map[string]any{
		"backfill":   map[string]any{"parallel_slices": 4, "min_window": "1h"},
		"rate_limit": map[string]any{"per_minute": -1, "per_hour": -1},
	})
	for _, typ := range all.Types() {
		if typ.Name != "itemusages" {
			delete(section, typ.ConfigKey)
		}
	}
	iu := section["item_usages"].(map[string]any)
	iu["starting_cursor"] = `{"limit": 100, "start_time": "` + a.clock.Now().Add(-80*time.Hour).Format(time.RFC3339) + `"}`
	return section
}

// backfillDone reports whether the state file holds the final, single
// cursor of a completed backfill.
func backfillDone(path string) bool {
	st, err := state.Load(path)
	return err == nil && st.Backfill == nil && st.Cursor != ""
}

// TestParallelBackfillEndToEnd backfills 72 hours of item usages in
// parallel time slices on a real libbeat pipeline into the file output:
// every simulator event arrives exactly once, and the state ends as the
// single live cursor.
func TestParallelBackfillEndToEnd(t *testing.T) {
	a := newAccount(t, 0, simulator.Config{
		Events:             map[string]int{"itemusages": 12000},
		Latency:            2 * time.Millisecond,
		RateLimitPerMinute: -1, RateLimitPerHour: -1,
	})
	stateDir, outDir := t.TempDir(), t.TempDir()
	statePath := filepath.Join(stateDir, "itemusages.state")
	r := startBeat(t, backfillSection(a, stateDir), "file", fileOutput(outDir))
	waitFor(t, "the backfill to complete", 60*time.Second, func() bool {
		return backfillDone(statePath) && r.metric("item_usages", "events.acked") >= 12000
	})
	r.stop()
	checkOnce(t, a, readDocs(t, outDir))
	// One cursor chain needs 121 requests (120 full pages of 100, one
	// empty); 32 slices each end on a partial page.
	if n := a.sim.Stats().ByPath["/api/v2/itemusages"]; n < 121+16 {
		t.Errorf("%d requests: the window was not read in 32 slices", n)
	}
}

// TestParallelBackfillCrashRestart takes the state file as a crash (kill -9)
// would leave it in the middle of a parallel backfill, restarts from it, and
// checks that every event is delivered at least once, and that the restart
// resumes the pending slices rather than starting over.
func TestParallelBackfillCrashRestart(t *testing.T) {
	const total = 20000
	a := newAccount(t, 0, simulator.Config{
		Events:             map[string]int{"itemusages": total},
		Latency:            20 * time.Millisecond,
		RateLimitPerMinute: -1, RateLimitPerHour: -1,
	})
	stateDir, out1, out2 := t.TempDir(), t.TempDir(), t.TempDir()
	statePath := filepath.Join(stateDir, "itemusages.state")
	section := backfillSection(a, stateDir)

	// Run 1, until the state file records a backfill with progress made
	// and slices still pending; that file is what a crash leaves.
	r1 := startBeat(t, section, "file", fileOutput(out1))
	var crashed []byte
	var atCrash state.State
	waitFor(t, "a backfill in progress in the state file", 60*time.Second, func() bool {
		data, err := os.ReadFile(statePath)
		if err != nil {
			return false
		}
		st, err := state.Parse(statePath, data)
		if err != nil || st.Backfill == nil || len(st.Backfill.Pending) == 0 || len(st.Backfill.Pending) > 24 {
			return false
		}
		crashed, atCrash = data, st
		return true
	})
	r1.stop()
	if err := os.WriteFile(statePath, crashed, 0o600); err != nil {
		t.Fatal(err)
	}

	// Run 2 from the crash state.
	r2 := startBeat(t, section, "file", fileOutput(out2))
	waitFor(t, "the resumed backfill to complete", 60*time.Second, func() bool { return backfillDone(statePath) })
	r2.stop()

	docs1, docs2 := readDocs(t, out1), readDocs(t, out2)
	got := map[string]int{}
	for _, d := range append(docs1, docs2...) {
		got[d.str("@metadata._id")]++
	}
	resent := map[string]bool{}
	for _, d := range docs2 {
		resent[d.str("@metadata._id")] = true
	}
	for _, ev := range a.sim.Events("itemusages") {
		id := "itemusages-" + ev.UUID
		if got[id] == 0 {
			t.Errorf("event %s at %s was lost across the crash", ev.UUID, ev.Timestamp.Format(time.RFC3339Nano))
			continue
		}
		// Run 2 reads only what the crash state left pending.
		if !resent[id] {
			continue
		}
		pending := !ev.Timestamp.Before(atCrash.Backfill.TailStart)
		for _, s := range atCrash.Backfill.Pending {
			pending = pending || (!ev.Timestamp.Before(s.Start) && !ev.Timestamp.After(s.End))
		}
		if !pending {
			t.Errorf("event %s at %s, in a slice completed before the crash, was read again", ev.UUID, ev.Timestamp.Format(time.RFC3339Nano))
		}
	}
	if len(docs2) >= total {
		t.Errorf("the restart sent %d documents: it started over instead of resuming", len(docs2))
	}
}
