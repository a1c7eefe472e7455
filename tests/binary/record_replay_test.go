package binary

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

const recordReplayConfig = `eventsapibeat:
  url: %q
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "signinattempts.state"
    starting_cursor: '{ "limit": 100, "start_time": "2020-01-01T00:00:00Z" }'
output.file:
  path: %q
  filename: events
`

// runUntil starts the binary with args in work, waits until done holds,
// stops it with SIGTERM and returns its log.
func runUntil(t *testing.T, work string, env []string, args []string, what string, done func(log string) bool) string {
	t.Helper()
	cmd := exec.Command(binaryPath, args...)
	cmd.Dir = work
	cmd.Env = env
	var logBuf lockedBuffer
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !done(logBuf.String()) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("timed out waiting for %s; log tail:\n%s", what, tail(logBuf.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("eventsapibeat exited with %v; log tail:\n%s", err, tail(logBuf.String(), 20))
	}
	return logBuf.String()
}

// TestRecordAndReplayFlags records a run with --record-dir, then replays it
// with --replay-dir after the simulator is gone and without the token's
// environment variable: the same documents come out, and the recording
// holds no trace of the token. A damaged recording is refused by `test
// config` with one line naming the file.
func TestRecordAndReplayFlags(t *testing.T) {
	sim, base := startSimulator(t, simulator.Config{Seed: 11, Events: map[string]int{"signinattempts": 250}, Span: 24 * time.Hour})
	token := issueToken(t, sim, "signinattempts")
	rec := filepath.Join(t.TempDir(), "recording")

	setup := func() (work, cfg, out string) {
		work = t.TempDir()
		out = filepath.Join(work, "out")
		cfg = filepath.Join(work, "eventsapibeat.yml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(recordReplayConfig, base, out)), 0o600); err != nil {
			t.Fatal(err)
		}
		return work, cfg, out
	}

	work1, cfg1, out1 := setup()
	runUntil(t, work1, append(os.Environ(), "SIGNIN_TOKEN="+token),
		[]string{"-c", cfg1, "-e", "--path.home", work1, "--record-dir", rec},
		"250 documents and a cursor", func(string) bool {
			_, err := os.Stat(filepath.Join(work1, "signinattempts.state"))
			return countDocs(t, out1) >= 250 && err == nil
		})
	sim.Close()
	recorded := docIDs(t, out1)
	if len(recorded) != 250 {
		t.Fatalf("the recorded run published %d documents, want 250", len(recorded))
	}
	files, _ := filepath.Glob(filepath.Join(rec, "signin_attempts", "*.json"))
	if len(files) < 4 {
		t.Fatalf("recorded files %v, want introspect and at least 3 pages", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(token, ".")
		if strings.Contains(string(data), token) || strings.Contains(string(data), parts[1]) || strings.Contains(string(data), parts[2]) {
			t.Fatalf("%s holds the token", f)
		}
	}

	// The token's variable is unset: replay needs none.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SIGNIN_TOKEN=") {
			env = append(env, kv)
		}
	}
	// The replay's configuration points at a production state file (a copy
	// of the recorded run's final cursor): the replay must neither resume
	// from it nor write it.
	work2, cfg2, out2 := setup()
	prodState, err := os.ReadFile(filepath.Join(work1, "signinattempts.state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work2, "signinattempts.state"), prodState, 0o600); err != nil {
		t.Fatal(err)
	}
	log := runUntil(t, work2, env,
		[]string{"-c", cfg2, "-e", "--path.home", work2, "--replay-dir", rec},
		"the replay to run out", func(log string) bool {
			return strings.Contains(log, "has no more answers") && countDocs(t, out2) >= 250
		})
	if got := docIDs(t, out2); !reflect.DeepEqual(got, recorded) {
		t.Fatalf("the replay published %d documents, the recorded run %d, or other ones", len(got), len(recorded))
	}
	if !strings.Contains(log, "replay mode") {
		t.Errorf("the replay's log does not say it replays; tail:\n%s", tail(log, 20))
	}
	if after, err := os.ReadFile(filepath.Join(work2, "signinattempts.state")); err != nil || string(after) != string(prodState) {
		t.Errorf("the replay changed the production state file (%v):\nbefore %s\nafter  %s", err, prodState, after)
	}
	replayState, err := os.ReadFile(filepath.Join(rec, "signin_attempts.replay.state"))
	if err != nil || !strings.Contains(string(replayState), `"replay":true`) {
		t.Errorf("the replay's own state file: %v %s", err, replayState)
	}

	// A damaged recording: test config names the file, on one line.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.MkdirAll(filepath.Join(bad, "signin_attempts"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if strings.HasPrefix(filepath.Base(f), "000002-") {
			data = data[:len(data)/2]
		}
		if err := os.WriteFile(filepath.Join(bad, "signin_attempts", filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binaryPath, "test", "config", "-c", cfg2, "--path.home", work2, "--replay-dir", bad)
	cmd.Dir = work2
	cmd.Env = env
	outText, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("test config accepted a damaged recording:\n%s", outText)
	}
	damaged := filepath.Join(bad, "signin_attempts", filepath.Base(files[1]))
	found := false
	for _, line := range strings.Split(string(outText), "\n") {
		if strings.Contains(line, "recording file "+damaged+": is not a valid recording: truncated JSON") {
			found = true
		}
	}
	if !found {
		t.Fatalf("test config does not name %s in one line; output:\n%s", damaged, tail(string(outText), 20))
	}
}
