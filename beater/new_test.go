package beater_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// TestNew covers what New reports for each enabled stream: a stream that
// cannot work is skipped with a one-line reason naming its setting, the
// others run, and New fails only when no stream can run.
func TestNew(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	issue := func(opts simulator.TokenOptions) string {
		tok, err := sim.IssueToken(opts)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	allFeatures := issue(simulator.TokenOptions{Features: []string{"signinattempts", "itemusages", "auditevents"}})
	signinOnly := issue(simulator.TokenOptions{Features: []string{"signinattempts"}})
	expired := issue(simulator.TokenOptions{Features: []string{"itemusages"}, IssuedAt: time.Now().Add(-48 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	hs256 := issue(simulator.TokenOptions{Features: []string{"itemusages"}, Alg: "HS256"})

	type streamCfg = map[string]any
	cases := []struct {
		name    string
		setup   func(dir string) // prepares files in dir
		streams map[string]streamCfg
		extra   map[string]any
		// wantRun lists the streams that run; empty means New must fail
		// with an error containing every wantErr substring.
		wantRun []string
		wantErr []string
	}{
		{
			name:    "all good",
			streams: map[string]streamCfg{"signin_attempts": {"auth_token": allFeatures}, "item_usages": {"auth_token": allFeatures}},
			wantRun: []string{"signin_attempts", "item_usages"},
		},
		{
			name:    "token lacking a feature stops only its stream",
			streams: map[string]streamCfg{"signin_attempts": {"auth_token": signinOnly}, "item_usages": {"auth_token": signinOnly}},
			wantRun: []string{"signin_attempts"},
		},
		{
			name:    "missing token",
			streams: map[string]streamCfg{"item_usages": {}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token: missing"},
		},
		{
			name:    "token not a JWT",
			streams: map[string]streamCfg{"item_usages": {"auth_token": "not-a-token"}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token", "JWT"},
		},
		{
			name:    "token with another algorithm",
			streams: map[string]streamCfg{"item_usages": {"auth_token": hs256}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token", "ES256"},
		},
		{
			name:    "token lacking the feature",
			streams: map[string]streamCfg{"audit_events": {"auth_token": signinOnly}},
			wantErr: []string{"eventsapibeat.audit_events.auth_token", "lacks the auditevents feature", "signinattempts"},
		},
		{
			name:    "expired token",
			streams: map[string]streamCfg{"item_usages": {"auth_token": expired}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token", "expired"},
		},
		{
			name:    "bad starting_cursor JSON",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "starting_cursor": `{ "limit": 1000, `}},
			wantErr: []string{"eventsapibeat.item_usages.starting_cursor"},
		},
		{
			name:    "starting_cursor limit out of range",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "starting_cursor": `{ "limit": 5000 }`}},
			wantErr: []string{"eventsapibeat.item_usages.starting_cursor", "limit"},
		},
		{
			name:    "sample_frequency below one second",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "sample_frequency": "10ms"}},
			wantErr: []string{"eventsapibeat.item_usages.sample_frequency"},
		},
		{
			name:    "unwritable state path",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "cursor_state_file": "no/such/dir/x.state"}},
			wantErr: []string{"eventsapibeat.item_usages.cursor_state_file"},
		},
		{
			name: "corrupt state file",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"cursor": "abc`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}, "signin_attempts": {"auth_token": allFeatures}},
			wantRun: []string{"signin_attempts"},
		},
		{
			name: "corrupt state file, only stream",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"cursor": "abc`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			wantErr: []string{"eventsapibeat.item_usages.cursor_state_file", "unusable", "move the file away"},
		},
		{
			name: "state of another stream",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"auditevents","api_version":"v2","cursor":"x"}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			wantErr: []string{"eventsapibeat.item_usages.cursor_state_file", "auditevents"},
		},
		{
			name: "state of another API version, version set explicitly",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v1","cursor":"x"}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			extra:   map[string]any{"api_version": "v2"},
			wantErr: []string{"api_version", "v1"},
		},
		{
			name: "state of another API version, version by default: the state's is used",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v1","cursor":"x"}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			wantRun: []string{"item_usages"},
		},
		{
			name:    "two streams share a state file",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "cursor_state_file": "same.state"}, "audit_events": {"auth_token": allFeatures, "cursor_state_file": "same.state"}},
			wantErr: []string{"cursor_state_file", "also the state file"},
		},
		{
			name:    "replay: no token needed; a stream without a recording is skipped",
			setup:   writeRecording,
			streams: map[string]streamCfg{"signin_attempts": {}, "item_usages": {"auth_token": "not-a-token"}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantRun: []string{"signin_attempts"},
		},
		{
			name:    "replay: an unresolvable token variable does no harm",
			setup:   writeRecording,
			streams: map[string]streamCfg{"signin_attempts": {"auth_token": "${EVENTSAPIBEAT_TEST_UNSET_VARIABLE}"}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantRun: []string{"signin_attempts"},
		},
		{
			name:    "replay: only stream has no recording",
			setup:   writeRecording,
			streams: map[string]streamCfg{"item_usages": {}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantErr: []string{"eventsapibeat.replay_dir", "holds no recording of stream item_usages"},
		},
		{
			name:    "replay_dir missing",
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "nope"},
			wantErr: []string{"eventsapibeat.replay_dir", "nope"},
		},
		{
			name: "replay: damaged recording file",
			setup: func(dir string) {
				writeRecording(dir)
				os.WriteFile(filepath.Join(dir, "rec", "signin_attempts", "000002-signinattempts.json"), []byte(`{"version": 1, "stream"`), 0o600)
			},
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantErr: []string{"eventsapibeat.replay_dir: recording file ", "000002-signinattempts.json: is not a valid recording: truncated JSON"},
		},
		{
			name: "replay: cursor_state_file is not used (a corrupt production state does not matter)",
			setup: func(dir string) {
				writeRecording(dir)
				os.WriteFile(filepath.Join(dir, "signinattempts.state"), []byte(`{"cursor": "abc`), 0o600)
			},
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantRun: []string{"signin_attempts"},
		},
		{
			name: "replay: refuses a state file a replay did not write",
			setup: func(dir string) {
				writeRecording(dir)
				os.WriteFile(filepath.Join(dir, "rec", "signin_attempts.replay.state"), []byte(`{"format":"eventsapibeat/3","stream":"signinattempts","cursor":"prod"}`), 0o600)
			},
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantErr: []string{"eventsapibeat.replay_dir: ", "signin_attempts.replay.state was not written by a replay", `add "replay": true`},
		},
		{
			name: "replay: continues its own state",
			setup: func(dir string) {
				writeRecording(dir)
				os.WriteFile(filepath.Join(dir, "rec", "signin_attempts.replay.state"), []byte(`{"format":"eventsapibeat/3","stream":"signinattempts","cursor":"c","replay":true}`), 0o600)
			},
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantRun: []string{"signin_attempts"},
		},
		{
			name: "replay_state_dir: refuses a state file a replay did not write",
			setup: func(dir string) {
				writeRecording(dir)
				os.Mkdir(filepath.Join(dir, "rs"), 0o700)
				os.WriteFile(filepath.Join(dir, "rs", "signin_attempts.replay.state"), []byte(`{"cursor":"legacy"}`), 0o600)
			},
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec", "replay_state_dir": "rs"},
			wantErr: []string{"eventsapibeat.replay_state_dir: ", "not written by a replay"},
		},
		{
			name:    "replay_state_dir missing",
			setup:   writeRecording,
			streams: map[string]streamCfg{"signin_attempts": {}},
			extra:   map[string]any{"replay_dir": "rec", "replay_state_dir": "no-such-dir"},
			wantErr: []string{"eventsapibeat.replay_state_dir: ", "no-such-dir"},
		},
		{
			name: "a run against the API refuses a state a replay wrote",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"itemusages","cursor":"c","replay":true}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			wantErr: []string{"eventsapibeat.item_usages.cursor_state_file: ", "itemusages.state was written by a replay"},
		},
		{
			name:    "record_dir is a file",
			setup:   func(dir string) { os.WriteFile(filepath.Join(dir, "rec"), nil, 0o600) },
			streams: map[string]streamCfg{"signin_attempts": {"auth_token": allFeatures}},
			extra:   map[string]any{"record_dir": "rec"},
			wantErr: []string{"eventsapibeat.record_dir"},
		},
		{
			name:    "replay: a missing auth_token_file does no harm",
			setup:   writeRecording,
			streams: map[string]streamCfg{"signin_attempts": {"auth_token_file": "no-such-token"}},
			extra:   map[string]any{"replay_dir": "rec"},
			wantRun: []string{"signin_attempts"},
		},
		{
			name: "pending reset",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"itemusages","cursor":"","reset":{"start_time":"2026-01-01T00:00:00Z"}}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			extra:   map[string]any{"api_version": "v1"},
			wantRun: []string{"item_usages"},
		},
		{
			name: "pending reset with a page size the API refuses",
			setup: func(dir string) {
				os.WriteFile(filepath.Join(dir, "itemusages.state"), []byte(`{"format":"eventsapibeat/3","stream":"itemusages","cursor":"","reset":{"start_time":"2026-01-01T00:00:00Z","limit":5000}}`), 0o600)
			},
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures}},
			wantErr: []string{"eventsapibeat.item_usages.cursor_state_file", "reset", "limit"},
		},
		{
			name:    "token file",
			setup:   func(dir string) { os.WriteFile(filepath.Join(dir, "token"), []byte(allFeatures+"\n"), 0o600) },
			streams: map[string]streamCfg{"item_usages": {"auth_token_file": "token"}},
			wantRun: []string{"item_usages"},
		},
		{
			name:    "global token file, a stream with its own token",
			setup:   func(dir string) { os.WriteFile(filepath.Join(dir, "token"), []byte(signinOnly), 0o600) },
			streams: map[string]streamCfg{"signin_attempts": {}, "item_usages": {"auth_token": allFeatures}},
			extra:   map[string]any{"auth_token_file": "token"},
			wantRun: []string{"signin_attempts", "item_usages"},
		},
		{
			name:    "global token lacking a stream's feature names the global setting",
			streams: map[string]streamCfg{"item_usages": {}},
			extra:   map[string]any{"auth_token": signinOnly},
			wantErr: []string{"eventsapibeat.auth_token:", "lacks the itemusages feature"},
		},
		{
			name:    "missing token file",
			streams: map[string]streamCfg{"item_usages": {"auth_token_file": "no-such-token"}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token_file:", "no-such-token", "no such file"},
		},
		{
			name:    "token file without a token",
			setup:   func(dir string) { os.WriteFile(filepath.Join(dir, "token"), []byte("not-a-token-at-all"), 0o600) },
			streams: map[string]streamCfg{"item_usages": {"auth_token_file": "token"}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token_file:", "not a JWT"},
		},
		{
			name:    "token and token file together",
			streams: map[string]streamCfg{"item_usages": {"auth_token": allFeatures, "auth_token_file": "token"}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token_file: set either auth_token or auth_token_file"},
		},
		{
			name:    "unresolvable variable as token",
			streams: map[string]streamCfg{"item_usages": {"auth_token": "${EVENTSAPIBEAT_TEST_UNSET_VARIABLE}"}},
			wantErr: []string{"eventsapibeat.item_usages.auth_token"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir) // relative state paths resolve against the working directory
			if tc.setup != nil {
				tc.setup(dir)
			}
			section := map[string]any{"url": "http://127.0.0.1:1"}
			for k, v := range tc.extra {
				section[k] = v
			}
			for key, sc := range tc.streams {
				s := map[string]any{"enabled": true, "cursor_state_file": filepath.Join(dir, strings.ReplaceAll(key, "_", "")+".state")}
				for k, v := range sc {
					s[k] = v
				}
				section[key] = s
			}
			b := &beat.Beat{Info: beat.Info{Beat: beater.Name, Logger: logp.NewNopLogger()}, Monitoring: beat.NewMonitoring()}
			bt, err := beater.New(b, conf.MustNewConfigFrom(section))
			if len(tc.wantRun) == 0 {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not contain %q", err, want)
					}
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				for _, tok := range []string{allFeatures, signinOnly, expired, hs256} {
					if strings.Contains(err.Error(), tok) {
						t.Fatal("the error contains a token")
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			got := bt.(*beater.Beater).Streams()
			if !sameSet(got, tc.wantRun) {
				t.Fatalf("running streams = %v, want %v", got, tc.wantRun)
			}
		})
	}
}

// writeRecording writes a one-exchange recording of signin_attempts under
// dir/rec.
func writeRecording(dir string) {
	sdir := filepath.Join(dir, "rec", "signin_attempts")
	os.MkdirAll(sdir, 0o700)
	os.WriteFile(filepath.Join(sdir, "000001-introspect.json"), []byte(`{"version": 1, "stream": "signin_attempts", "seq": 1,
		"request": {"method": "GET", "url": "https://events.1password.com/api/v2/auth/introspect"},
		"response": {"status": 200, "body": {"uuid": "X", "features": ["signinattempts"]}}}`), 0o600)
}

func sameSet(a, b []string) bool {
	m := func(s []string) map[string]bool {
		out := map[string]bool{}
		for _, v := range s {
			out[v] = true
		}
		return out
	}
	return reflect.DeepEqual(m(a), m(b))
}
