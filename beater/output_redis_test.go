package beater_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// redisServerPath finds redis-server. Where it is missing and the test runs
// as root with apt-get (as CI does), it installs Debian's package; otherwise
// the test skips and says how to get it.
func redisServerPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
		t.Skip("redis-server is not installed and this test cannot install it (needs root and apt-get); run `sudo apt-get install -y redis-server`, as .ci/run does")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", "redis-server")
	install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := install.CombinedOutput(); err != nil {
		t.Skipf("redis-server is not installed and `apt-get install -y redis-server` failed (%v): %s", err, lastLines(string(out), 5))
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skipf("redis-server not found after installing Debian's package: %v", err)
	}
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startRedis runs a private redis-server on a free loopback port, without
// persistence, stopped at the end of the test. It returns its address.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := redisServerPath(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		var log bytes.Buffer
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--dir", t.TempDir())
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			// Installed but not runnable: a broken peer, not a missing one.
			t.Fatalf("redis-server cannot be started: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		ready := time.After(10 * time.Second)
	wait:
		for {
			select {
			case err := <-exited:
				lastErr = fmt.Errorf("redis-server exited (%v): %s", err, lastLines(log.String(), 3))
				break wait
			case <-ready:
				cmd.Process.Kill()
				<-exited
				lastErr = errors.New("redis-server did not answer PING within 10s")
				break wait
			default:
			}
			if c, err := redis.Dial("tcp", addr); err == nil {
				_, err = c.Do("PING")
				c.Close()
				if err == nil {
					t.Cleanup(func() {
						cmd.Process.Kill()
						<-exited
					})
					return addr
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatalf("redis-server cannot be started: %v", lastErr)
	return ""
}

// redisLists reads what the beat pushed to one list per event type. Lists
// only grow, so it reads each one from where it stopped.
type redisLists struct {
	t    *testing.T
	mu   sync.Mutex
	conn redis.Conn
	next map[string]int
	got  *received
}

// read fetches the new elements of every list; safe for concurrent use.
func (l *redisLists) read() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, from := range l.next {
		items, err := redis.ByteSlices(l.conn.Do("LRANGE", key, from, -1))
		if err != nil {
			l.t.Errorf("LRANGE %s: %v", key, err)
			return
		}
		for _, item := range items {
			var doc struct {
				Meta struct {
					ID        string `json:"_id"`
					EventType string `json:"event_type"`
				} `json:"@metadata"`
			}
			if err := json.Unmarshal(item, &doc); err != nil || doc.Meta.EventType != key || !strings.HasPrefix(doc.Meta.ID, key+"-") {
				l.t.Errorf("list %s holds %.200s (err %v)", key, item, err)
				continue
			}
			l.got.add(doc.Meta.ID)
		}
		l.next[key] = from + len(items)
	}
}

// TestRedisOutput runs the beat into a real redis-server with one list per
// event type (key %{[@metadata][event_type]}). Writes are paused until the
// beat's first RPUSH is blocked in the server: no cursor is written before
// Redis answers it. Every event is in its list exactly once and the cursors
// end at the end of the data.
func TestRedisOutput(t *testing.T) {
	addr := startRedis(t)
	types := []string{"signinattempts", "itemusages", "auditevents"}
	a := newAccount(t, 0, simulator.Config{Events: map[string]int{"signinattempts": 1500, "itemusages": 2000, "auditevents": 600}})
	stateDir := t.TempDir()
	section := a.beatConfig(stateDir, nil)

	ctl, err := redis.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ctl.Close()
	if _, err := ctl.Do("CLIENT", "PAUSE", 60000, "WRITE"); err != nil {
		t.Fatalf("CLIENT PAUSE: %v", err)
	}
	unpause := sync.OnceFunc(func() {
		if _, err := ctl.Do("CLIENT", "UNPAUSE"); err != nil {
			t.Errorf("CLIENT UNPAUSE: %v", err)
		}
	})
	defer unpause()

	reader, err := redis.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	lists := &redisLists{t: t, conn: reader, next: map[string]int{}, got: newReceived()}
	for _, name := range types {
		lists.next[name] = 0
	}

	r := startBeat(t, section, "redis", map[string]any{
		"hosts":         []string{addr},
		"key":           "%{[@metadata][event_type]}",
		"datatype":      "list",
		"bulk_max_size": 400,
		// The first RPUSH waits in the paused server; it must not time out.
		"timeout": "60s",
	})
	audit := auditCommits(t, a, stateDir, types, lists.got, lists.read)

	waitFor(t, "the beat's first RPUSH blocked by the pause", 30*time.Second, func() bool {
		info, err := redis.String(ctl.Do("INFO", "clients"))
		if err != nil {
			return false
		}
		for _, line := range strings.Split(info, "\r\n") {
			if n, ok := strings.CutPrefix(line, "blocked_clients:"); ok && n != "0" {
				return true
			}
		}
		return false
	})
	for name, key := range streamKeys(types) {
		if _, err := os.Stat(filepath.Join(stateDir, name+".state")); !os.IsNotExist(err) {
			t.Errorf("%s: a cursor was written before Redis answered (stat err %v)", name, err)
		}
		if n := r.metric(key, "events.acked"); n != 0 {
			t.Errorf("%s: events.acked = %d before Redis answered", name, n)
		}
	}
	unpause()

	total := totalEvents(a, types)
	waitCaughtUp(t, a, r, stateDir, types)
	waitFor(t, "every event in Redis", 30*time.Second, func() bool {
		lists.read()
		return lists.got.distinct() >= total
	})
	r.stop()
	audited := audit.finish()
	lists.read()

	checkExactlyOnce(t, a, types, lists.got.snapshot())
	for _, name := range types {
		n, err := redis.Int(reader.Do("LLEN", name))
		if err != nil {
			t.Fatal(err)
		}
		if want := len(a.sim.Events(name)); n != want {
			t.Errorf("list %s holds %d elements, want %d (one per event)", name, n, want)
		}
	}
	t.Logf("%d events, one list element each; %d cursor commits audited", total, audited)
}
