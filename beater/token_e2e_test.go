package beater_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/logp/logptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// logged reports whether a log entry at level contains every part.
func logged(logs *observer.ObservedLogs, level string, parts ...string) bool {
	for _, e := range logs.All() {
		if e.Level.String() != level {
			continue
		}
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e.Message, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestTokenFileRotationEndToEnd: a stream reads its token from
// auth_token_file. The token in the file is revoked: the stream is refused,
// and the log names the likely cause and the file to fix. Writing a new
// token into the file lets the stream catch up without a restart. Then that
// token is revoked and replaced too, while live events arrive, and the
// stream goes on.
func TestTokenFileRotationEndToEnd(t *testing.T) {
	const perType = 1200
	a := newAccount(t, perType, simulator.Config{LiveInterval: time.Second})
	issue := func() string {
		tok, err := a.sim.IssueToken(simulator.TokenOptions{Features: []string{"itemusages"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first, second, third := issue(), issue(), issue()
	a.sim.Revoke(first)

	stateDir, outDir := t.TempDir(), t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "item-usages.token")
	if err := os.WriteFile(tokenFile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	section := a.beatConfig(stateDir, map[string]any{
		"backoff":         map[string]any{"init": "10ms", "max": "50ms"},
		"circuit_breaker": map[string]any{"failure_threshold": 3, "open_timeout": "100ms", "success_threshold": 1},
	})
	delete(section, "signin_attempts")
	delete(section, "audit_events")
	items := section["item_usages"].(map[string]any)
	delete(items, "auth_token")
	items["auth_token_file"] = tokenFile

	logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
	r := startBeatLogged(t, logger, section, "file", fileOutput(outDir))

	waitFor(t, "the revoked token to be refused and explained", 30*time.Second, func() bool {
		return logged(logs, "error", "refused the token", "most likely revoked", tokenFile, "eventsapibeat.item_usages.auth_token_file", "without a restart")
	})
	if got := r.metric("item_usages", "events.published"); got != 0 {
		t.Fatalf("%d events published with a revoked token", got)
	}

	// Rotation: the new token is written the way most tools do, to a
	// temporary file renamed over the old one.
	rotate := func(tok string) {
		tmp := tokenFile + ".new"
		if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, tokenFile); err != nil {
			t.Fatal(err)
		}
	}
	rotate(second)
	waitFor(t, "the stream to catch up with the rotated token", 60*time.Second, func() bool {
		return r.metric("item_usages", "events.acked") >= perType
	})
	if !logged(logs, "info", "read a new token from "+tokenFile) {
		t.Error("the rotation was not logged")
	}

	// Second rotation while live events arrive: the old token is revoked
	// as an administrator would after rotating.
	rotate(third)
	a.sim.Revoke(second)
	before := r.metric("item_usages", "events.acked")
	a.clock.Advance(5 * time.Second)
	waitFor(t, "live events with the third token", 30*time.Second, func() bool {
		return r.metric("item_usages", "events.acked") >= before+5
	})
	r.stop()

	for _, e := range logs.All() {
		for _, tok := range []string{first, second, third} {
			if strings.Contains(e.Message, tok) || strings.Contains(e.Message, strings.Split(tok, ".")[2]) {
				t.Fatalf("a log line contains a token: %q", e.Message)
			}
		}
	}
	docs := readDocs(t, outDir)
	seen := map[string]bool{}
	for _, d := range docs {
		seen[d.str("event.id")] = true
	}
	if len(seen) < perType+5 {
		t.Fatalf("%d distinct events written, want at least %d", len(seen), perType+5)
	}
}

// TestCursorResetIsHonoured: a reset written into the state file (as
// `eventsapibeat cursor reset` does) makes the stream start again from its
// time at the next start, and the first acknowledged page replaces it with
// a cursor.
func TestCursorResetIsHonoured(t *testing.T) {
	const perType = 900
	a := newAccount(t, perType, simulator.Config{})
	stateDir := t.TempDir()
	section := a.beatConfig(stateDir, nil)
	delete(section, "signin_attempts")
	delete(section, "audit_events")
	statePath := filepath.Join(stateDir, "itemusages.state")

	r := startBeat(t, section, "file", fileOutput(t.TempDir()))
	waitFor(t, "the first run", 60*time.Second, func() bool { return r.metric("item_usages", "events.acked") == perType })
	r.stop()

	events := a.sim.Events("itemusages")
	from := events[len(events)/3].Timestamp.Truncate(time.Second)
	want := 0
	for _, e := range events {
		if !e.Timestamp.Before(from) {
			want++
		}
	}
	if _, err := state.Replace(statePath, state.State{Stream: "itemusages", Reset: &state.Reset{StartTime: from}}); err != nil {
		t.Fatal(err)
	}

	outDir := t.TempDir()
	r = startBeat(t, section, "file", fileOutput(outDir))
	waitFor(t, "the events since the reset time", 60*time.Second, func() bool { return r.metric("item_usages", "events.acked") == int64(want) })
	r.stop()
	if got := len(readDocs(t, outDir)); got != want {
		t.Fatalf("%d documents after the reset, want the %d events since %s", got, want, from)
	}
	st, err := state.Load(statePath)
	if err != nil || st.Reset != nil || st.Cursor == "" {
		t.Fatalf("state after the run = %+v, %v; want a cursor and no reset", st, err)
	}
}

// TestTokenRotationRepeatIsBudgetedAndCounted: a token file rewritten in
// place with the same size and modification time is seen only when the
// API refuses the old token. The repeat with the new token is a request
// like any other: requests.total and requests.status.* count every request
// the simulator received, and the 401 does not count against the breaker.
func TestTokenRotationRepeatIsBudgetedAndCounted(t *testing.T) {
	const perType = 30
	a := newAccount(t, perType, simulator.Config{})
	issue := func() string {
		tok, err := a.sim.IssueToken(simulator.TokenOptions{Features: []string{"itemusages"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	first, second := issue(), issue()
	if len(first) != len(second) {
		t.Fatalf("tokens of %d and %d bytes: the in-place rotation below needs equal sizes", len(first), len(second))
	}
	stateDir, outDir := t.TempDir(), t.TempDir()
	tokenFile := filepath.Join(t.TempDir(), "item-usages.token")
	if err := os.WriteFile(tokenFile, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	section := a.beatConfig(stateDir, map[string]any{"circuit_breaker": map[string]any{"failure_threshold": 1}})
	delete(section, "signin_attempts")
	delete(section, "audit_events")
	items := section["item_usages"].(map[string]any)
	delete(items, "auth_token")
	items["auth_token_file"] = tokenFile

	r := startBeat(t, section, "file", fileOutput(outDir))
	waitFor(t, "the stream to catch up", 30*time.Second, func() bool { return r.metric("item_usages", "events.acked") == perType })

	// Rewrite in place, keeping size and modification time, then revoke
	// the old token: only the 401 reveals the new one.
	info, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tokenFile, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	a.sim.Revoke(first)
	const path = "/api/v2/itemusages"
	okBefore := a.sim.Stats().ByPathStatus[path][http.StatusOK]
	waitFor(t, "a 401 and then pages with the new token", 30*time.Second, func() bool {
		st := a.sim.Stats().ByPathStatus[path]
		return st[http.StatusUnauthorized] == 1 && st[http.StatusOK] >= okBefore+2
	})
	r.stop()

	byStatus := a.sim.Stats().ByPathStatus[path]
	received := 0
	for _, n := range byStatus {
		received += n
	}
	want := map[string]int64{
		"requests.total":      int64(received),
		"requests.status.2xx": int64(byStatus[http.StatusOK]),
		"requests.status.4xx": 1,
		"breaker.opened":      0,
	}
	for name, w := range want {
		if got := r.metric("item_usages", name); got != w {
			t.Errorf("%s = %d, want %d (the simulator received %v)", name, got, w, byStatus)
		}
	}
}

// TestRevokedTokenCostsOneIntrospect: a stream whose token is revoked
// retries with backoff and logs why on every 401, but asks the introspect
// endpoint only once (at start; the explanation reuses that answer), and
// requests.introspect counts every introspect request the API received.
func TestRevokedTokenCostsOneIntrospect(t *testing.T) {
	a := newAccount(t, 10, simulator.Config{})
	revoked, err := a.sim.IssueToken(simulator.TokenOptions{Features: []string{"itemusages"}})
	if err != nil {
		t.Fatal(err)
	}
	a.sim.Revoke(revoked)
	section := a.beatConfig(t.TempDir(), map[string]any{
		"backoff":         map[string]any{"init": "1ms", "max": "5ms"},
		"circuit_breaker": map[string]any{"failure_threshold": 1000},
	})
	delete(section, "signin_attempts")
	delete(section, "audit_events")
	section["item_usages"].(map[string]any)["auth_token"] = revoked

	logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
	r := startBeatLogged(t, logger, section, "file", fileOutput(t.TempDir()))
	const path = "/api/v2/itemusages"
	waitFor(t, "several refused page requests", 30*time.Second, func() bool {
		return a.sim.Stats().ByPathStatus[path][http.StatusUnauthorized] >= 5
	})
	r.stop()

	introspects := 0
	for p, n := range a.sim.Stats().ByPath {
		if strings.Contains(p, "introspect") {
			introspects += n
		}
	}
	if introspects != 1 {
		t.Errorf("the API received %d introspect requests, want 1 (at start)", introspects)
	}
	if got := r.metric("item_usages", "requests.introspect"); got != int64(introspects) {
		t.Errorf("requests.introspect = %d, the API received %d", got, introspects)
	}
	explained := 0
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "refused the token") && strings.Contains(e.Message, "most likely revoked") {
			explained++
		}
	}
	if explained < 5 {
		t.Errorf("%d refusals explained, want one per 401 (at least 5)", explained)
	}
}
