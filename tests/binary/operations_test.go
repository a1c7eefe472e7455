package binary

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// operationsConfig: sign-in attempts with a token from the environment,
// item usages with a token file.
const operationsConfig = `eventsapibeat:
  url: %q
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_TOKEN}"
    sample_frequency: 1s
    cursor_state_file: signinattempts.state
    starting_cursor: '{ "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }'
  item_usages:
    enabled: true
    auth_token_file: item-usages.token
    sample_frequency: 1s
    cursor_state_file: itemusages.state
    starting_cursor: '{ "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }'
output.file:
  path: %q
  filename: events
`

// operator runs the binary in one working directory and home.
type operator struct {
	t    *testing.T
	work string
	cfg  string
	env  []string
}

func (o *operator) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binaryPath, append(args, "-c", o.cfg, "--path.home", o.work)...)
	cmd.Dir = o.work
	cmd.Env = append(os.Environ(), o.env...)
	return cmd
}

// run runs a command to its end and returns its standard output and error
// together, and its exit code.
func (o *operator) run(stdin string, args ...string) (string, int) {
	o.t.Helper()
	cmd := o.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		o.t.Fatalf("%v: %v", args, err)
	}
	return string(out), code
}

// TestOperationsCommands: `test api` passes a good setup and fails a revoked
// token; `cursor` commands refuse to change state while the beat runs, and
// a `cursor reset` made while it is stopped makes the next run re-read
// exactly the events since the reset time, keeping a .bak.
func TestOperationsCommands(t *testing.T) {
	const signins, items = 300, 500
	sim, base := startSimulator(t, simulator.Config{Seed: 11, Events: map[string]int{"signinattempts": signins, "itemusages": items}, Span: 48 * time.Hour})
	signinToken := issueToken(t, sim, "signinattempts")
	itemToken := issueToken(t, sim, "itemusages")
	revoked := issueToken(t, sim, "signinattempts")
	sim.Revoke(revoked)

	work := t.TempDir()
	out := filepath.Join(work, "out")
	o := &operator{t: t, work: work, cfg: filepath.Join(work, "eventsapibeat.yml"), env: []string{"SIGNIN_TOKEN=" + signinToken}}
	if err := os.WriteFile(o.cfg, []byte(fmt.Sprintf(operationsConfig, base, out)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "item-usages.token"), []byte(itemToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noToken := func(what, text string) {
		t.Helper()
		for _, tok := range []string{signinToken, itemToken, revoked} {
			if strings.Contains(text, tok) || strings.Contains(text, strings.Split(tok, ".")[2]) {
				t.Fatalf("%s printed a token:\n%s", what, text)
			}
		}
	}

	// test api
	report, code := o.run("", "test", "api")
	noToken("test api", report)
	if code != 0 || !strings.Contains(report, "Overall: OK: all 2 enabled stream(s) can run.") || !strings.Contains(report, "eventsapibeat.item_usages.auth_token_file") {
		t.Fatalf("test api on a good setup: exit %d\n%s", code, report)
	}
	o.env = []string{"SIGNIN_TOKEN=" + revoked}
	report, code = o.run("", "test", "api")
	noToken("test api", report)
	if code == 0 || !strings.Contains(report, "FAIL") || !strings.Contains(report, "most likely revoked") {
		t.Fatalf("test api with a revoked token: exit %d\n%s", code, report)
	}
	o.env = []string{"SIGNIN_TOKEN=" + signinToken}

	// The beat runs: show works, changes are refused.
	beat := o.command("-e")
	var logBuf lockedBuffer
	beat.Stderr = &logBuf
	if err := beat.Start(); err != nil {
		t.Fatal(err)
	}
	defer beat.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	itemsState := filepath.Join(work, "itemusages.state")
	for countDocs(t, out) < signins+items || !committed(filepath.Join(work, "signinattempts.state")) || !committed(itemsState) {
		if time.Now().After(deadline) {
			t.Fatalf("the beat did not finish: %d documents; log tail:\n%s", countDocs(t, out), tail(logBuf.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	shown, code := o.run("", "cursor", "show")
	if code != 0 || strings.Count(shown, "cursor:       present (API v2)") != 2 {
		t.Fatalf("cursor show while running: exit %d\n%s", code, shown)
	}
	before, _ := os.ReadFile(itemsState)
	refused, code := o.run("", "cursor", "reset", "item_usages", "--start-time", "24h", "--yes")
	if code == 0 || !strings.Contains(refused, "is running with data path") {
		t.Fatalf("cursor reset while the beat runs: exit %d\n%s", code, refused)
	}
	if after, _ := os.ReadFile(itemsState); string(after) != string(before) {
		t.Fatal("a refused reset changed the state")
	}
	if err := beat.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := beat.Wait(); err != nil {
		t.Fatalf("the beat exited with %v", err)
	}
	noToken("the beat's log", logBuf.String())

	// Stopped: an unconfirmed reset changes nothing; a confirmed one does.
	events := sim.Events("itemusages")
	from := events[len(events)/2].Timestamp.UTC().Truncate(time.Second)
	since := 0
	for _, e := range events {
		if !e.Timestamp.Before(from) {
			since++
		}
	}
	answer, code := o.run("n\n", "cursor", "reset", "item_usages", "--start-time", from.Format(time.RFC3339))
	if code == 0 || !strings.Contains(answer, "Change it? [y/N]") {
		t.Fatalf("declined reset: exit %d\n%s", code, answer)
	}
	if after, _ := os.ReadFile(itemsState); string(after) != string(before) {
		t.Fatal("a declined reset changed the state")
	}
	done, code := o.run("y\n", "cursor", "reset", "itemusages", "--start-time", from.Format(time.RFC3339))
	if code != 0 || !strings.Contains(done, "itemusages.state.bak") {
		t.Fatalf("confirmed reset: exit %d\n%s", code, done)
	}
	if bak, _ := os.ReadFile(itemsState + ".bak"); string(bak) != string(before) {
		t.Fatal("the .bak is not the replaced state")
	}
	shownJSON, code := o.run("", "cursor", "show", "item_usages", "--json")
	var statuses []map[string]any
	if code != 0 || json.Unmarshal([]byte(shownJSON[strings.Index(shownJSON, "["):]), &statuses) != nil || len(statuses) != 1 || statuses[0]["reset_start_time"] != from.Format(time.RFC3339) {
		t.Fatalf("cursor show --json after the reset: exit %d\n%s", code, shownJSON)
	}

	// The next run re-reads the events since the reset time, and no more.
	os.RemoveAll(out)
	beat = o.command("-e")
	logBuf = lockedBuffer{}
	beat.Stderr = &logBuf
	if err := beat.Start(); err != nil {
		t.Fatal(err)
	}
	defer beat.Process.Kill()
	deadline = time.Now().Add(60 * time.Second)
	for {
		st, err := state.Load(itemsState)
		if err == nil && st.Reset == nil && countDocs(t, out) >= since {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no run after the reset: %d documents; log tail:\n%s", countDocs(t, out), tail(logBuf.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	beat.Process.Signal(syscall.SIGTERM)
	beat.Wait()
	if n := countDocs(t, out); n != since {
		t.Fatalf("%d documents after the reset, want the %d item usages since %s", n, since, from)
	}
	if !strings.Contains(logBuf.String(), "holds a reset") {
		t.Error("the beat did not log that it honoured the reset")
	}

	// cursor set: continue from a cursor another client obtained.
	page := postPage(t, base+"/api/v2/itemusages", itemToken, `{ "limit": 10, "start_time": "2020-01-01T00:00:00Z" }`)
	set, code := o.run("", "cursor", "set", "item_usages", "--cursor", page.Cursor, "--yes")
	if code != 0 {
		t.Fatalf("cursor set: exit %d\n%s", code, set)
	}
	if st, err := state.Load(itemsState); err != nil || st.Cursor != page.Cursor || st.APIVersion != "v2" {
		t.Fatalf("state after cursor set = %+v, %v", st, err)
	}
}

// committed reports whether path holds a usable cursor.
func committed(path string) bool {
	st, err := state.Load(path)
	return err == nil && st.Cursor != ""
}
