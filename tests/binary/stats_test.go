package binary

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

const statsConfig = `eventsapibeat:
  url: %q
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "signinattempts.state"
    starting_cursor: '{ "limit": 100, "start_time": "2020-01-01T00:00:00Z" }'
  item_usages:
    enabled: true
    auth_token: "${ITEM_TOKEN}"
    sample_frequency: "1s"
    cursor_state_file: "itemusages.state"
    starting_cursor: '{ "limit": 100, "start_time": "2020-01-01T00:00:00Z" }'
http.enabled: true
http.host: 127.0.0.1
http.port: %d
logging.metrics.period: 1s
output.file:
  path: %q
  filename: events
`

// TestStatsEndpoint runs the binary with libbeat's HTTP endpoint on and
// reads each stream's metrics from /stats as an operator would; the
// periodic metrics log line carries them too, and neither holds a token.
func TestStatsEndpoint(t *testing.T) {
	counts := map[string]int{"signinattempts": 300, "itemusages": 450}
	sim, base := startSimulator(t, simulator.Config{Seed: 11, Events: counts, Span: 24 * time.Hour})
	tokens := map[string]string{}
	for typ := range counts {
		tokens[typ] = issueToken(t, sim, typ)
	}

	work := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(work, "eventsapibeat.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(statsConfig, base, port, filepath.Join(work, "out"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binaryPath, "-c", cfg, "-e", "--path.home", work)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "SIGNIN_TOKEN="+tokens["signinattempts"], "ITEM_TOKEN="+tokens["itemusages"])
	var logBuf lockedBuffer
	cmd.Stderr = &logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/stats", port)
	keys := map[string]string{"signinattempts": "signin_attempts", "itemusages": "item_usages"}
	var body string
	var streams map[string]map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for {
		body, streams = readStats(url)
		done := streams != nil
		for typ, key := range keys {
			s := streams[key]
			committed, _ := lookup(s, "cursor.last_event_time").(string)
			done = done && number(s, "events.acked") == float64(counts[typ]) && s["caught_up"] == true &&
				committed != "" && committed == lookup(s, "events.newest_time")
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/stats never showed every event acknowledged and committed; last body: %s\nlog tail:\n%s", body, tail(logBuf.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for typ, key := range keys {
		s := streams[key]
		pages := float64((counts[typ] + 99) / 100)
		for name, want := range map[string]float64{
			"events.published":      float64(counts[typ]),
			"requests.status.4xx":   0,
			"requests.status.5xx":   0,
			"requests.rate_limited": 0,
			"breaker.opened":        0,
		} {
			if got := number(s, name); got != want {
				t.Errorf("/stats %s.%s = %v, want %v", key, name, got, want)
			}
		}
		// Polls go on every second once caught up, each a page.
		if got := number(s, "pages"); got < pages {
			t.Errorf("/stats %s.pages = %v, want at least %v", key, got, pages)
		}
		// Every answer was a page (one may be between the two counters).
		if got, p := number(s, "requests.status.2xx"), number(s, "pages"); got < p || got > p+1 {
			t.Errorf("/stats %s.requests.status.2xx = %v, pages %v", key, got, p)
		}
		for _, name := range []string{"lag.seconds_gauge", "cursor.age_seconds_gauge", "rate_limit.remaining_minute_gauge", "rate_limit.remaining_hour_gauge"} {
			if got := number(s, name); got < 0 {
				t.Errorf("/stats %s.%s = %v, want a known value", key, name, got)
			}
		}
		for _, name := range []string{"events.newest_time", "cursor.last_event_time", "cursor.last_commit"} {
			if v, _ := lookup(s, name).(string); v == "" {
				t.Errorf("/stats %s.%s is empty", key, name)
			}
		}
		if got := lookup(s, "breaker.state"); got != "closed" {
			t.Errorf("/stats %s.breaker.state = %v", key, got)
		}
	}

	// The periodic metrics line (every 1 s here) carries the streams too.
	for !strings.Contains(logBuf.String(), `"lag":{"seconds_gauge":`) {
		if time.Now().After(deadline) {
			t.Fatalf("no metrics log line with the streams' lag; log tail:\n%s", tail(logBuf.String(), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("eventsapibeat exited with %v; log tail:\n%s", err, tail(logBuf.String(), 20))
	}
	for _, token := range tokens {
		signature := token[strings.LastIndex(token, ".")+1:]
		if strings.Contains(body, token) || strings.Contains(body, signature) {
			t.Fatal("/stats shows a token")
		}
		if strings.Contains(logBuf.String(), signature) {
			t.Fatal("the log shows a token")
		}
	}
}

// readStats GETs /stats and returns the body and the eventsapibeat section
// (nil while the endpoint is not up yet).
func readStats(url string) (string, map[string]map[string]any) {
	resp, err := http.Get(url)
	if err != nil {
		return "", nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return string(data), nil
	}
	var doc struct {
		Streams map[string]map[string]any `json:"eventsapibeat"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return string(data), nil
	}
	return string(data), doc.Streams
}

// lookup follows a dotted path through nested JSON objects.
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, p := range strings.Split(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return cur
}

// number is lookup for a number; -1 when it is missing.
func number(m map[string]any, path string) float64 {
	if v, ok := lookup(m, path).(float64); ok {
		return v
	}
	return -1
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
