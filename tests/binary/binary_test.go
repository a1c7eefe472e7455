// Package binary tests the built eventsapibeat executable the way users run
// it: ./eventsapibeat -c eventsapibeat.yml -e, a 2.x-style configuration,
// the simulator as the Events API, the file output, and SIGTERM to stop.
package binary

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// binaryPath is built once by TestMain.
var binaryPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventsapibeat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaryPath = filepath.Join(dir, "eventsapibeat")
	build := exec.Command("go", "build", "-o", binaryPath, "../..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building eventsapibeat:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// config is a 2.x configuration (the seed-001 schema) plus the one new
// setting a simulator needs: the URL.
const config = `eventsapibeat:
  insecure_skip_verify: false
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

output.file:
  path: %q
  filename: events
`

func TestRunSeedStyleConfig(t *testing.T) {
	sim, base := startSimulator(t, simulator.Config{Seed: 7, Events: map[string]int{"signinattempts": 400, "itemusages": 600, "auditevents": 50}, Span: 48 * time.Hour})
	signin := issueToken(t, sim, "signinattempts")
	items := issueToken(t, sim, "itemusages")

	work := t.TempDir()
	out := filepath.Join(work, "out")
	cfg := filepath.Join(work, "eventsapibeat.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(config, base, out)), 0o600); err != nil {
		t.Fatal(err)
	}
	// A 2.x history file for item usages is continued, not re-read: learn
	// a cursor the way 2.x did (a v1 page of 100 from the start) and write
	// the history file 2.x would have left.
	skipped, cursor := legacyFirstPage(t, base, items)
	history := "{ \"cursor\": \"older\" }\n{ \"cursor\": \"" + cursor + "\" }\n"
	if err := os.WriteFile(filepath.Join(work, "itemusages.eventsapibeatstate"), []byte(history), 0o644); err != nil {
		t.Fatal(err)
	}
	const want = 400 + 600 - 100

	cmd := exec.Command(binaryPath, "-c", cfg, "-e", "--path.home", work)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SIGNIN_TOKEN="+signin, "ITEM_TOKEN="+items)
	var logBuf lockedBuffer
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(60 * time.Second)
	for countDocs(t, out) < want {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("only %d documents after 60s", countDocs(t, out))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Wait until both cursors are committed, then stop as systemd would.
	for _, name := range []string{"signinattempts", "itemusages"} {
		for {
			if _, err := state.Load(filepath.Join(work, name+".eventsapibeatstate")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no %s cursor written", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("eventsapibeat exited with %v; log tail:\n%s", err, tail(logBuf.String(), 20))
	}
	logText := logBuf.String()
	if strings.Contains(logText, signin) || strings.Contains(logText, items) {
		t.Fatal("a token appears in the log")
	}
	if n := countDocs(t, out); n != want {
		t.Fatalf("%d documents, want %d (400 sign-ins + the 500 item usages after the 2.x cursor)", n, want)
	}
	ids := docIDs(t, out)
	for _, uuid := range skipped {
		if ids["itemusages-"+uuid] {
			t.Fatalf("item usage %s, before the 2.x cursor, was sent again", uuid)
		}
	}
	for _, name := range []string{"signinattempts", "itemusages"} {
		data, err := os.ReadFile(filepath.Join(work, name+".eventsapibeatstate"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), signin) || strings.Contains(string(data), items) {
			t.Fatalf("%s state file holds a token", name)
		}
	}
}

func countDocs(t *testing.T, dir string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "events*.ndjson"))
	n := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			if json.Valid(sc.Bytes()) {
				n++
			}
		}
		fh.Close()
	}
	return n
}

func tail(text string, n int) string {
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lockedBuffer collects the beat's log while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// legacyFirstPage fetches the first v1 page of 100 item usages as
// eventsapibeat 2.x did and returns their uuids and the page's cursor.
func legacyFirstPage(t *testing.T, base, token string) ([]string, string) {
	t.Helper()
	page := postPage(t, base+"/api/v1/itemusages", token, `{ "limit": 100, "start_time": "2020-01-01T00:00:00Z" }`)
	if len(page.Items) != 100 {
		t.Fatalf("v1 first page: %d items, want 100", len(page.Items))
	}
	uuids := make([]string, len(page.Items))
	for i, it := range page.Items {
		uuids[i] = it.UUID
	}
	return uuids, page.Cursor
}

// rawPage is the part of an Events API page the tests read.
type rawPage struct {
	Cursor string `json:"cursor"`
	Items  []struct {
		UUID string `json:"uuid"`
	} `json:"items"`
}

// postPage sends body to an events endpoint of the simulator, as a client
// other than the beat would, and decodes the page.
func postPage(t *testing.T, url, token, body string) rawPage {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page rawPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: status %d, err %v", url, resp.StatusCode, err)
	}
	return page
}

// docIDs returns the @metadata._id of every document written under dir.
func docIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "events*.ndjson"))
	ids := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var d struct {
				Meta struct {
					ID string `json:"_id"`
				} `json:"@metadata"`
			}
			if json.Unmarshal(line, &d) == nil && d.Meta.ID != "" {
				ids[d.Meta.ID] = true
			}
		}
	}
	return ids
}
