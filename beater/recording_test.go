package beater_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// TestRecordThenReplay records a run against a simulator that fails some
// answers (5xx, bodies cut off mid-way, HTML from a "proxy"), then replays
// the recording in a second beat with the simulator stopped and no token
// configured. The replay publishes exactly the documents of the recorded
// run, goes through the same failures, and no recorded file holds the
// token.
func TestRecordThenReplay(t *testing.T) {
	const perType = 1000
	a := newAccount(t, perType, simulator.Config{})
	a.sim.SetFaults(simulator.Faults{ServerErrorRatio: 0.1, TruncateRatio: 0.05, TruncateAbort: true, NonJSONRatio: 0.05})
	recDir := t.TempDir()
	extra := map[string]any{
		"backoff":         map[string]any{"init": "10ms", "max": "50ms"},
		"circuit_breaker": map[string]any{"open_timeout": "100ms"},
	}
	limit100 := func(section map[string]any) {
		for _, typ := range all.Types() {
			section[typ.ConfigKey].(map[string]any)["starting_cursor"] = `{"limit": 100, "start_time": "` + a.clock.Now().Add(-80*time.Hour).Format(time.RFC3339) + `"}`
		}
	}

	// Run 1: record. Its state files stand for the production cursors.
	extra["record_dir"] = recDir
	out1 := t.TempDir()
	prodStates := t.TempDir()
	section := a.beatConfig(prodStates, extra)
	limit100(section)
	r := startBeat(t, section, "file", fileOutput(out1))
	waitFor(t, "the recorded run's documents", 60*time.Second, func() bool { return len(readDocs(t, out1)) >= 3*perType })
	for _, typ := range all.Types() {
		waitFor(t, typ.ConfigKey+" acknowledged", 10*time.Second, func() bool {
			return r.metric(typ.ConfigKey, "events.acked") == perType
		})
	}
	r.stop()
	recorded := readDocs(t, out1)
	checkOnce(t, a, recorded)
	errors1 := map[string]int64{}
	failed := int64(0)
	for _, typ := range all.Types() {
		errors1[typ.ConfigKey] = r.metric(typ.ConfigKey, "requests.errors")
		failed += errors1[typ.ConfigKey]
	}
	if failed == 0 {
		t.Fatal("no request failed; the test would not show that failures are replayed")
	}
	a.sim.Close()
	prodBefore := readStates(t, prodStates)

	// No file of the recording holds the token.
	files := 0
	err := filepath.WalkDir(recDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		assertNoToken(t, a.token, path, string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("nothing was recorded")
	}

	// Run 2: replay, with the simulator gone and no auth_token at all, but
	// with the production cursor_state_files: the replay must neither
	// continue from them nor move them.
	delete(extra, "record_dir")
	extra["replay_dir"] = recDir
	out2 := t.TempDir()
	section = a.beatConfig(prodStates, extra)
	limit100(section)
	for _, typ := range all.Types() {
		delete(section[typ.ConfigKey].(map[string]any), "auth_token")
	}
	r2 := startBeat(t, section, "file", fileOutput(out2))
	for _, typ := range all.Types() {
		pages, _ := filepath.Glob(filepath.Join(recDir, typ.ConfigKey, "*-"+typ.Name+".json"))
		// Every recorded page request is answered, and then one more: the
		// recording ran out and the stream idles.
		waitFor(t, typ.ConfigKey+" replaying the whole recording", 60*time.Second, func() bool {
			return r2.metric(typ.ConfigKey, "requests.total") > int64(len(pages)) &&
				r2.metric(typ.ConfigKey, "events.acked") == perType
		})
	}
	r2.stop()
	replayed := readDocs(t, out2)

	want := map[string]bool{}
	for _, d := range recorded {
		want[d.str("@metadata._id")] = true
	}
	got := map[string]int{}
	for _, d := range replayed {
		got[d.str("@metadata._id")]++
	}
	if len(replayed) != len(recorded) || len(got) != len(want) {
		t.Fatalf("replay published %d documents (%d ids), the recorded run %d (%d ids)", len(replayed), len(got), len(recorded), len(want))
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("document %s was published %d times in the replay, want once", id, got[id])
		}
	}
	for _, typ := range all.Types() {
		if e := r2.metric(typ.ConfigKey, "requests.errors"); e != errors1[typ.ConfigKey] {
			t.Errorf("%s: %d failed requests in the replay, %d in the recorded run", typ.ConfigKey, e, errors1[typ.ConfigKey])
		}
	}
	if !strings.Contains(metricsJSON(t, r2), "signin_attempts") {
		t.Error("the replay run has no stream metrics")
	}
	if prodAfter := readStates(t, prodStates); !reflect.DeepEqual(prodAfter, prodBefore) {
		t.Errorf("the replay changed the production state files:\nbefore %v\nafter  %v", prodBefore, prodAfter)
	}
	for _, typ := range all.Types() {
		path := filepath.Join(recDir, typ.ConfigKey+".replay.state")
		st, err := state.Load(path)
		if err != nil {
			t.Fatalf("the replay state of %s: %v", typ.ConfigKey, err)
		}
		if !st.Replay || st.Cursor == "" {
			t.Errorf("%s: replay state %+v, want a cursor marked replay", path, st)
		}
	}
}

// readStates returns the content of every file in dir by name.
func readStates(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	if len(out) == 0 {
		t.Fatalf("no state file in %s", dir)
	}
	return out
}
