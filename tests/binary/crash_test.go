package binary

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// crashConfig runs every stream from the start of the simulated history into
// the file output. The output keeps every file it writes (a new one per
// start, never purged), so the test sees everything every run delivered.
const crashConfig = `eventsapibeat:
  url: %q
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "signinattempts.eventsapibeatstate"
    starting_cursor: >
      { "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }
  item_usages:
    enabled: true
    auth_token: "${ITEM_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "itemusages.eventsapibeatstate"
    starting_cursor: >
      { "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }
  audit_events:
    enabled: true
    auth_token: "${AUDIT_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "auditevents.eventsapibeatstate"
    starting_cursor: >
      { "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }

output.file:
  path: %q
  filename: events
  rotate_every_kb: 1048576
  number_of_files: 1024
`

// crashQueueSize is libbeat's default memory queue size and crashPageSize
// the page limit of the configuration: together they bound what a kill can
// leave written but not committed, per stream.
const (
	crashQueueSize = 3200
	crashPageSize  = 1000
)

// TestCrashRecovery kills the beat with SIGKILL at several points of a large
// backfill, restarts it each time with the same configuration, state files
// and output directory, and lets the last run finish. Every simulator event
// must be in the output; duplicates are allowed only as the unacknowledged
// tail re-sent after a kill. After every kill, the committed cursor must not
// be ahead of what the output holds.
func TestCrashRecovery(t *testing.T) {
	counts := map[string]int{
		simulator.ItemUsages:     60000,
		simulator.SignInAttempts: 20000,
		simulator.AuditEvents:    10000,
	}
	sim, base := startSimulator(t, simulator.Config{
		Seed:    2024,
		Events:  counts,
		Span:    30 * 24 * time.Hour,
		Latency: 3 * time.Millisecond,
		// Restarts re-read pages; keep the API's limits out of the way.
		RateLimitPerMinute: -1,
		RateLimitPerHour:   -1,
	})
	envs := map[string]string{
		simulator.SignInAttempts: "SIGNIN_TOKEN",
		simulator.ItemUsages:     "ITEM_TOKEN",
		simulator.AuditEvents:    "AUDIT_TOKEN",
	}
	types := []string{simulator.ItemUsages, simulator.SignInAttempts, simulator.AuditEvents}
	tokens := map[string]string{}
	env := os.Environ()
	for _, typ := range types {
		tok := issueToken(t, sim, typ)
		tokens[typ] = tok
		env = append(env, envs[typ]+"="+tok)
	}

	// The oracle.
	testStart := time.Now()
	events := map[string][]simulator.Event{}
	total := 0
	for _, typ := range types {
		events[typ] = sim.Events(typ)
		if len(events[typ]) != counts[typ] {
			t.Fatalf("simulator holds %d %s, want %d", len(events[typ]), typ, counts[typ])
		}
		total += len(events[typ])
	}
	t.Logf("oracle: %d events generated in %s", total, time.Since(testStart).Round(time.Millisecond))

	work := t.TempDir()
	out := filepath.Join(work, "out")
	cfg := filepath.Join(work, "eventsapibeat.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(crashConfig, base, out)), 0o600); err != nil {
		t.Fatal(err)
	}
	statePath := func(typ string) string { return filepath.Join(work, typ+".eventsapibeatstate") }

	var logs lockedBuffer // every run's stderr, in order
	secrets := make([]string, 0, len(tokens))
	for _, tok := range tokens {
		secrets = append(secrets, tok)
	}
	watch := newOutputWatcher(out, secrets)
	start := func(run int) *beatProcess {
		fmt.Fprintf(&logs, "=== run %d ===\n", run)
		cmd := exec.Command(binaryPath, "-c", cfg, "-e", "--path.home", work)
		cmd.Dir = work
		cmd.Env = env
		cmd.Stderr = &logs
		p := &beatProcess{cmd: cmd, done: make(chan struct{})}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			p.err = cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(p.kill)
		return p
	}
	// waitUntil polls the output (and whatever else cond looks at) while
	// the process runs.
	waitUntil := func(p *beatProcess, what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			if err := watch.poll(); err != nil {
				t.Fatal(err)
			}
			if cond() {
				return
			}
			select {
			case <-p.done:
				t.Fatalf("eventsapibeat exited (%v) while waiting for %s; log tail:\n%s", p.err, what, tail(logs.String(), 30))
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after %s waiting for %s (%d of %d events in the output); log tail:\n%s", timeout, what, watch.unique(), total, tail(logs.String(), 30))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	began := time.Now()
	restarts := 0
	for run, frac := range []float64{0.10, 0.35, 0.60, 0.85} {
		p := start(run + 1)
		target := int(frac * float64(total))
		waitUntil(p, fmt.Sprintf("%d%% of the events", int(frac*100)), 60*time.Second, func() bool { return watch.unique() >= target })
		p.kill()
		<-p.done
		restarts++
		if err := watch.poll(); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: SIGKILL with %d of %d events in the output (%d lines) after %s", run+1, watch.unique(), total, watch.lines, time.Since(began).Round(time.Millisecond))
		// The killed process's committed cursors must be covered by the
		// output: everything before a cursor was acknowledged, so written.
		for _, typ := range types {
			st, err := state.Load(statePath(typ))
			if errors.Is(err, state.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatalf("run %d: %s state after SIGKILL: %v", run+1, typ, err)
			}
			checkCommittedPrefix(t, run+1, base, tokens[typ], typ, st, events[typ], watch.ids)
			checkStateFile(t, statePath(typ), tokens)
		}
	}

	// The last run finishes the backfill: every event in the output and
	// every cursor committed at the newest event.
	p := start(restarts + 1)
	waitUntil(p, "every event in the output", 60*time.Second, func() bool { return watch.unique() >= total })
	// Caught up: the simulator serves nothing after the committed cursors.
	waitUntil(p, "every cursor committed past the newest event", 30*time.Second, func() bool {
		for _, typ := range types {
			st, err := state.Load(statePath(typ))
			if err != nil {
				return false
			}
			if _, more := firstAfterCursor(t, base, tokens[typ], typ, st.Cursor); more {
				return false
			}
		}
		return true
	})
	caughtUp := time.Since(began)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	select {
	case <-p.done:
		t.Logf("exited %s after SIGTERM", time.Since(termed).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("eventsapibeat did not exit within 30s of SIGTERM; log tail:\n%s", tail(logs.String(), 30))
	}
	if p.err != nil {
		t.Fatalf("eventsapibeat exited with %v after SIGTERM, want exit code 0; log tail:\n%s", p.err, tail(logs.String(), 30))
	}

	// Every simulator event arrived; duplicates only as re-sent tails.
	readStart := time.Now()
	partial, err := watch.finish()
	if err != nil {
		t.Fatal(err)
	}
	if watch.invalid > 0 {
		t.Errorf("%d complete line(s) of the output are not documents", watch.invalid)
	}
	if len(watch.leaked) > 0 {
		t.Errorf("a token appears in the output files %v", watch.leaked)
	}
	seen := watch.ids
	missingAll, dupAll := 0, 0
	for _, typ := range types {
		missing, dupIDs, dupDocs := 0, 0, 0
		var examples []string
		for _, ev := range events[typ] {
			n := seen[typ+"-"+ev.UUID]
			switch {
			case n == 0:
				missing++
				if len(examples) < 5 {
					examples = append(examples, ev.UUID)
				}
			case n > 1:
				dupIDs++
				dupDocs += n - 1
			}
		}
		missingAll += missing
		dupAll += dupDocs
		t.Logf("%s: %d events, %d missing, %d ids duplicated (%d extra documents)", typ, len(events[typ]), missing, dupIDs, dupDocs)
		if missing > 0 {
			t.Errorf("%s: %d of %d events never reached the output (e.g. %s)", typ, missing, len(events[typ]), strings.Join(examples, ", "))
		}
		if bound := restarts * (crashQueueSize + crashPageSize); dupDocs > bound {
			t.Errorf("%s: %d duplicated documents, more than %d restarts can explain (%d)", typ, dupDocs, restarts, bound)
		}
	}
	known := 0
	for _, typ := range types {
		for _, ev := range events[typ] {
			if seen[typ+"-"+ev.UUID] > 0 {
				known++
			}
		}
	}
	if known != len(seen) {
		t.Errorf("the output holds %d distinct _id, of which only %d are simulator events", len(seen), known)
	}
	t.Logf("crash-recovery: generated=%d missing=%d duplicated=%d restarts=%d", total, missingAll, dupAll, restarts)
	t.Logf("caught up %s after the first start; output read in %s; %d partial line(s) left by kills skipped", caughtUp.Round(time.Millisecond), time.Since(readStart).Round(time.Millisecond), partial)

	// The cursors SIGTERM left are at the end, and private.
	for _, typ := range types {
		st, err := state.Load(statePath(typ))
		if err != nil {
			t.Fatalf("%s state after SIGTERM: %v", typ, err)
		}
		checkCommittedPrefix(t, restarts+1, base, tokens[typ], typ, st, events[typ], seen)
		if _, more := firstAfterCursor(t, base, tokens[typ], typ, st.Cursor); more {
			t.Errorf("%s: after SIGTERM the cursor is not at the end of the data", typ)
		}
		checkStateFile(t, statePath(typ), tokens)
	}
	logText := logs.String()
	if !strings.Contains(logText, "eventsapibeat") {
		t.Errorf("the captured log is empty or not the beat's:\n%s", tail(logText, 10))
	}
	for typ, tok := range tokens {
		if strings.Contains(logText, tok) {
			t.Errorf("the %s token appears in the log", typ)
		}
	}
}

// beatProcess is one run of the binary.
type beatProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// kill sends SIGKILL (as a crash or the OOM killer would) if the process
// still runs.
func (p *beatProcess) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// checkCommittedPrefix asserts that every event before a committed cursor
// is in the output. The simulator, asked for the page at the cursor, says
// where the cursor points: every event before that page's first event was
// served before the cursor, so must have been acknowledged, so written.
func checkCommittedPrefix(t *testing.T, run int, base, token, typ string, st state.State, events []simulator.Event, ids map[string]int) {
	t.Helper()
	if st.Stream != typ || st.APIVersion != "v2" {
		t.Errorf("run %d: %s state names stream %q, API %q", run, typ, st.Stream, st.APIVersion)
	}
	if st.Backfill != nil {
		checkBackfillState(t, run, base, token, typ, st, events, ids)
		return
	}
	next := len(events) // an empty page: the cursor is past every event
	if first, ok := firstAfterCursor(t, base, token, typ, st.Cursor); ok {
		next = -1
		for i, ev := range events {
			if ev.UUID == first {
				next = i
				break
			}
		}
		if next < 0 {
			t.Fatalf("run %d: the %s cursor leads to event %s, which the simulator did not generate", run, typ, first)
		}
	}
	missing := 0
	for _, ev := range events[:next] {
		if ids[typ+"-"+ev.UUID] == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("run %d: the %s cursor (after event %d of %d) was committed although %d event(s) before it are not in the output", run, typ, next, len(events), missing)
	}
	switch {
	case next == 0:
		t.Errorf("run %d: a %s cursor was committed before any event", run, typ)
	case st.LastEventTime.IsZero():
		t.Errorf("run %d: the %s state (cursor after event %d of %d) has no last_event_time", run, typ, next, len(events))
	case !st.LastEventTime.Equal(events[next-1].Timestamp):
		t.Errorf("run %d: the %s state says last_event_time %s, but its cursor follows an event of %s", run, typ, st.LastEventTime.Format(time.RFC3339Nano), events[next-1].Timestamp.Format(time.RFC3339Nano))
	}
}

// checkBackfillState asserts, for the state of a stream in a parallel
// backfill, that every event the state does not leave to be read again is in
// the output: those of slices no longer pending, those of a pending slice
// before its cursor, and those of the tail chain before its cursor. The
// state's last_event_time is a watermark: every event up to it is delivered.
func checkBackfillState(t *testing.T, run int, base, token, typ string, st state.State, events []simulator.Event, ids map[string]int) {
	t.Helper()
	index := make(map[string]int, len(events))
	for i, ev := range events {
		index[ev.UUID] = i
	}
	// from returns the index of the first event a chain still has to
	// deliver: the first on the page at its cursor, or the first at or
	// after its start when it has no cursor; len(events) when none.
	from := func(cursor string, start time.Time) int {
		if cursor == "" {
			for i, ev := range events {
				if !ev.Timestamp.Before(start) {
					return i
				}
			}
			return len(events)
		}
		first, ok := firstAfterCursor(t, base, token, typ, cursor)
		if !ok {
			return len(events)
		}
		i, known := index[first]
		if !known {
			t.Fatalf("run %d: a %s backfill cursor leads to event %s, which the simulator did not generate", run, typ, first)
		}
		return i
	}
	undelivered := make([]bool, len(events))
	for i := from(st.Cursor, st.Backfill.TailStart); i < len(events); i++ {
		undelivered[i] = true
	}
	for _, sl := range st.Backfill.Pending {
		for i := from(sl.Cursor, sl.Start); i < len(events) && !events[i].Timestamp.After(sl.End); i++ {
			undelivered[i] = true
		}
	}
	missing := 0
	for i, ev := range events {
		if !undelivered[i] && ids[typ+"-"+ev.UUID] == 0 {
			missing++
		}
		if !ev.Timestamp.After(st.LastEventTime) && ids[typ+"-"+ev.UUID] == 0 {
			t.Errorf("run %d: %s last_event_time %s, but event %d of %s is not in the output", run, typ, st.LastEventTime.Format(time.RFC3339Nano), i, ev.Timestamp.Format(time.RFC3339Nano))
			break
		}
	}
	if missing > 0 {
		t.Fatalf("run %d: the %s backfill state (%d pending slices) leaves %d event(s) unread that are not in the output", run, typ, len(st.Backfill.Pending), missing)
	}
}

// firstAfterCursor asks the simulator for the page at cursor and returns the
// uuid of its first event; ok is false when the page is empty.
func firstAfterCursor(t *testing.T, base, token, typ, cursor string) (string, bool) {
	t.Helper()
	body, err := json.Marshal(map[string]string{"cursor": cursor})
	if err != nil {
		t.Fatal(err)
	}
	page := postPage(t, base+"/api/v2/"+typ, token, string(body))
	if len(page.Items) == 0 {
		return "", false
	}
	return page.Items[0].UUID, true
}

// checkStateFile asserts that a state file is private and holds no token.
func checkStateFile(t *testing.T, path string, tokens map[string]string) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s has mode %o, want 600", filepath.Base(path), mode)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for typ, tok := range tokens {
		if bytes.Contains(data, []byte(tok)) {
			t.Errorf("%s holds the %s token", filepath.Base(path), typ)
		}
	}
}

// idLine is the part of a document the test reads.
type idLine struct {
	Meta struct {
		ID string `json:"_id"`
	} `json:"@metadata"`
}

// outputWatcher follows the file output incrementally: it reads each file
// from where it stopped, up to its last newline, and counts the
// @metadata._id of every line. The output only ever appends to its files and
// starts a new file at every start, so each byte is read once. A line a
// killed process left unfinished has no newline and is never completed;
// finish accounts for it.
type outputWatcher struct {
	dir     string
	secrets [][]byte
	offsets map[string]int64
	ids     map[string]int
	lines   int // documents read
	invalid int // newline-terminated lines that are not a document
	leaked  []string
}

func newOutputWatcher(dir string, secrets []string) *outputWatcher {
	w := &outputWatcher{dir: dir, offsets: map[string]int64{}, ids: map[string]int{}}
	for _, s := range secrets {
		w.secrets = append(w.secrets, []byte(s))
	}
	return w
}

func (w *outputWatcher) unique() int { return len(w.ids) }

func (w *outputWatcher) files() []string {
	files, _ := filepath.Glob(filepath.Join(w.dir, "events*.ndjson"))
	sort.Strings(files)
	return files
}

// read returns the bytes of f after what was consumed.
func (w *outputWatcher) read(f string) ([]byte, error) {
	fh, err := os.Open(f)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	if _, err := fh.Seek(w.offsets[f], io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(fh)
}

func (w *outputWatcher) checkSecrets(f string, data []byte) {
	for _, s := range w.secrets {
		if bytes.Contains(data, s) {
			w.leaked = append(w.leaked, filepath.Base(f))
		}
	}
}

// poll consumes the complete lines written since the last poll.
func (w *outputWatcher) poll() error {
	for _, f := range w.files() {
		data, err := w.read(f)
		if err != nil {
			return err
		}
		end := bytes.LastIndexByte(data, '\n')
		if end < 0 {
			continue
		}
		data = data[:end]
		w.checkSecrets(f, data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			var d idLine
			if json.Unmarshal(line, &d) != nil || d.Meta.ID == "" {
				w.invalid++
				continue
			}
			w.ids[d.Meta.ID]++
			w.lines++
		}
		w.offsets[f] += int64(end + 1)
	}
	return nil
}

// finish reads what the stopped processes left and returns the number of
// unfinished last lines (a write cut by SIGKILL), which are skipped: they
// are not valid JSON.
func (w *outputWatcher) finish() (int, error) {
	if err := w.poll(); err != nil {
		return 0, err
	}
	files := w.files()
	if len(files) == 0 {
		return 0, fmt.Errorf("no output files in %s", w.dir)
	}
	partial := 0
	for _, f := range files {
		rest, err := w.read(f)
		if err != nil {
			return 0, err
		}
		if len(rest) == 0 {
			continue
		}
		w.checkSecrets(f, rest)
		var d idLine
		if json.Unmarshal(rest, &d) != nil || d.Meta.ID == "" {
			partial++
			continue
		}
		// Cut just before its newline: a whole document.
		w.ids[d.Meta.ID]++
		w.lines++
	}
	return partial, nil
}
