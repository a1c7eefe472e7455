package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	conf "github.com/elastic/elastic-agent-libs/config"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// TestTestAPI runs `test api`'s checks against the simulator for each
// kind of problem: the verdict, the exit status and the report's lines.
func TestTestAPI(t *testing.T) {
	// One fixed clock for the simulator (its Date header, token checks) and
	// testAPI, so the skew shown does not depend on the wall clock. A
	// quarter past the second: the Date header drops the fraction, and the
	// midpoint estimate is then 250ms off, well within "none".
	realNow := testNow.Add(250 * time.Millisecond)
	clock := func() time.Time { return realNow }
	type scenario struct {
		name string
		// simOffset shifts the simulator's clock from this host's.
		simOffset time.Duration
		// section builds the eventsapibeat: section; dir is a temp dir.
		section func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any
		wantErr bool
		want    []string
	}
	stream := func(dir, key string, extra map[string]any) map[string]any {
		s := map[string]any{"enabled": true, "cursor_state_file": filepath.Join(dir, key+".state")}
		for k, v := range extra {
			s[k] = v
		}
		return s
	}
	cases := []scenario{
		{
			name: "all good, token from a file shared by two streams",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"signinattempts", "itemusages"}, ExpiresAt: realNow.Add(200 * 24 * time.Hour)})
				file := filepath.Join(dir, "token")
				os.WriteFile(file, []byte(tok+"\n"), 0o600)
				return map[string]any{"url": base, "auth_token_file": file,
					"signin_attempts": stream(dir, "s", nil), "item_usages": stream(dir, "i", nil)}
			},
			want: []string{"signin_attempts (signinattempts)", "item_usages (itemusages)", "eventsapibeat.auth_token_file (", "introspect:   OK", "one page:     OK",
				"this stream needs itemusages: yes", "expires:      ", "(in 199 days)", "clock skew:   none", "none yet; the stream starts from starting_cursor",
				"verdict:      OK", "used by signin_attempts, item_usages", "Overall: OK: all 2 enabled stream(s) can run."},
		},
		{
			name: "a stream whose token lacks its feature fails",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"signinattempts"}})
				return map[string]any{"url": base, "auth_token": tok,
					"signin_attempts": stream(dir, "s", nil), "audit_events": stream(dir, "a", nil)}
			},
			wantErr: true,
			want:    []string{"this stream needs auditevents: NO", "FAIL: the token lacks the auditevents feature", "lacks the feature of audit_events", "Overall: FAIL: audit_events would not work"},
		},
		{
			name: "revoked token",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
				sim.Revoke(tok)
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			wantErr: true,
			want:    []string{"introspect:   REFUSED", "most likely revoked", "eventsapibeat.item_usages.auth_token"},
		},
		{
			name: "expired token",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}, IssuedAt: realNow.Add(-72 * time.Hour), ExpiresAt: realNow.Add(-time.Hour)})
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			wantErr: true,
			want:    []string{"expires:      ", " ago)", "FAIL: the token expired at"},
		},
		{
			name: "token expiring soon warns",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}, ExpiresAt: realNow.Add(5*24*time.Hour + time.Hour)})
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			want: []string{"OK with warnings: the token expires in 5 days (token_expiry_warning_days: 14)", "Overall: OK with warnings (item_usages)"},
		},
		{
			name:      "clock skew warns",
			simOffset: 10 * time.Minute,
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}, IssuedAt: realNow})
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			want: []string{"clock skew:   the API is 10m0s ahead", "set up NTP"},
		},
		{
			name: "missing token file",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token_file": filepath.Join(dir, "nope")})}
			},
			wantErr: true,
			want:    []string{"FAIL: eventsapibeat.item_usages.auth_token_file:", "no such file"},
		},
		{
			name: "unusable state file",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
				os.WriteFile(filepath.Join(dir, "i.state"), []byte(`{"cursor": "tru`), 0o600)
				return map[string]any{"url": base, "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			wantErr: true,
			want:    []string{"state:        UNUSABLE", "FAIL: the state file is unusable"},
		},
		{
			name: "API unreachable",
			section: func(t *testing.T, sim *simulator.Server, base, dir string) map[string]any {
				tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
				return map[string]any{"url": "http://127.0.0.1:1", "item_usages": stream(dir, "i", map[string]any{"auth_token": tok})}
			},
			wantErr: true,
			want:    []string{"introspect:   FAILED", "FAIL: the introspect endpoint failed"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			offset := tc.simOffset
			sim, base := startSimulator(t, simulator.Config{Seed: 9, Events: map[string]int{"signinattempts": 20, "itemusages": 20, "auditevents": 20}, Span: 30 * time.Minute,
				Now: func() time.Time { return clock().Add(offset) }})
			dir := t.TempDir()
			cfg, types, err := beater.LoadConfig(conf.MustNewConfigFrom(tc.section(t, sim, base, dir)))
			if err != nil {
				t.Fatal(err)
			}
			setup := &beatSetup{cfg: cfg, types: types}
			var out bytes.Buffer
			err = testAPI(context.Background(), cfg, setup.enabled(), &out, clock)
			report := out.String()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v; report:\n%s", err, tc.wantErr, report)
			}
			for _, w := range tc.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q:\n%s", w, report)
				}
			}
			if strings.Contains(report, "eyJ") {
				t.Fatalf("the report contains something like a JWT:\n%s", report)
			}
		})
	}
}

// TestTestAPIRefusesReplay: with replay_dir set, `test api` sends nothing
// (not the configured token to the live API either) and says why, naming
// the setting.
func TestTestAPIRefusesReplay(t *testing.T) {
	sim, base := startSimulator(t, simulator.Config{Seed: 9, Events: map[string]int{"itemusages": 5}})
	tok := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
	dir := t.TempDir()
	cfg, types, err := beater.LoadConfig(conf.MustNewConfigFrom(map[string]any{
		"url": base, "replay_dir": dir,
		"item_usages": map[string]any{"enabled": true, "auth_token": tok, "cursor_state_file": filepath.Join(dir, "i.state")},
	}))
	if err != nil {
		t.Fatal(err)
	}
	setup := &beatSetup{cfg: cfg, types: types}
	var out bytes.Buffer
	err = testAPI(context.Background(), cfg, setup.enabled(), &out, time.Now)
	if n := sim.Stats().Requests; n != 0 {
		t.Errorf("%d request(s) went to the API", n)
	}
	if err == nil {
		t.Fatalf("test api ran with replay_dir set; report:\n%s", out.String())
	}
	for _, want := range []string{"eventsapibeat.replay_dir: ", "checks the live Events API", "without --replay-dir", "test config --replay-dir " + dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), tok) {
		t.Errorf("error is not one line without the token: %q", err)
	}
}

// startSimulator serves an Events API simulator on a free local port until
// the test ends and returns it with its base URL.
func startSimulator(t *testing.T, cfg simulator.Config) (*simulator.Server, string) {
	t.Helper()
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sim, base
}

// issueToken issues a token of sim.
func issueToken(t *testing.T, sim *simulator.Server, opts simulator.TokenOptions) string {
	t.Helper()
	tok, err := sim.IssueToken(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
