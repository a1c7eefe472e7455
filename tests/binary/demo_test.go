package binary

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs `eventsapibeat demo` as the README tells a new user to, with
// its documents sent to the file output instead of the console, and stops it
// with Ctrl-C.
func TestDemo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(binaryPath, "demo", "--events", "40", "--live", "0",
		"-E", "output.file.path="+out, "-E", "output.file.filename=events")
	cmd.Dir = t.TempDir()
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const want = 3 * 40
	deadline := time.Now().Add(60 * time.Second)
	for countDocs(t, out) < want {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("demo wrote %d documents in 60s, want %d; output:\n%s", countDocs(t, out), want, tail(logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exited with %v after Ctrl-C; output:\n%s", err, tail(logs.String(), 20))
	}
	if n := countDocs(t, out); n != want {
		t.Fatalf("demo wrote %d documents, want exactly %d", n, want)
	}
	if ids := docIDs(t, out); len(ids) != want {
		t.Fatalf("%d distinct @metadata._id for %d documents", len(ids), want)
	}
}
