package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/common"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/transport/tlscommon"
)

var specs = []StreamSpec{
	{EventType: "signinattempts", Key: "signin_attempts"},
	{EventType: "itemusages", Key: "item_usages"},
	{EventType: "auditevents", Key: "audit_events"},
}

func load(t *testing.T, yml string) (Config, error) {
	t.Helper()
	raw, err := conf.NewConfigWithYAML([]byte(yml), "test")
	if err != nil {
		t.Fatalf("test YAML does not parse: %v", err)
	}
	return Load(raw, specs)
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name    string
		yml     string
		wantErr string // substring; "" means valid
		check   func(t *testing.T, c Config)
	}{
		{
			name: "2.x stream section, defaults filled in",
			yml:  "signin_attempts:\n  enabled: true\n  auth_token: abc\n",
			check: func(t *testing.T, c Config) {
				s := c.EnabledStreams()
				if len(s) != 1 || s[0].Key != "signin_attempts" {
					t.Fatalf("enabled streams = %+v", s)
				}
				if s[0].SampleFrequency != 10*time.Second {
					t.Errorf("sample_frequency default = %s, want 10s", s[0].SampleFrequency)
				}
				if s[0].CursorStateFile != "eventsapibeat_signinattempts.state" {
					t.Errorf("cursor_state_file default = %q", s[0].CursorStateFile)
				}
				if v, explicit := c.StreamAPIVersion(s[0]); v != APIv2 || explicit {
					t.Errorf("api version = %s explicit=%v, want v2 implicit", v, explicit)
				}
				if c.ShutdownTimeout != 5*time.Second {
					t.Errorf("shutdown_timeout default = %s", c.ShutdownTimeout)
				}
			},
		},
		{
			name: "all three streams, new settings",
			yml: `
url: https://events.1password.eu
api_version: v1
preserve_original_event: true
signin_attempts: {enabled: true, auth_token: a, sample_frequency: 1s}
item_usages: {enabled: true, auth_token: b, url: "http://127.0.0.1:8080", api_version: v2}
audit_events: {enabled: true, auth_token: c, cursor_state_file: /var/lib/x.state}
`,
			check: func(t *testing.T, c Config) {
				if n := len(c.EnabledStreams()); n != 3 {
					t.Fatalf("%d enabled streams, want 3", n)
				}
				si, iu, ae := c.Streams[0], c.Streams[1], c.Streams[2]
				if got := c.StreamURL(si); got != "https://events.1password.eu" {
					t.Errorf("signin url = %q", got)
				}
				if got := c.StreamURL(iu); got != "http://127.0.0.1:8080" {
					t.Errorf("item_usages url override = %q", got)
				}
				if v, _ := c.StreamAPIVersion(si); v != APIv1 {
					t.Errorf("signin api version = %s, want global v1", v)
				}
				if v, explicit := c.StreamAPIVersion(iu); v != APIv2 || !explicit {
					t.Errorf("item_usages api version = %s %v, want explicit v2", v, explicit)
				}
				if ae.CursorStateFile != "/var/lib/x.state" || !c.PreserveOriginalEvent {
					t.Errorf("audit = %+v preserve=%v", ae, c.PreserveOriginalEvent)
				}
			},
		},
		{
			name: "disabled stream is not validated",
			yml:  "signin_attempts: {enabled: true, auth_token: a}\nitem_usages: {enabled: false, sample_frequency: 1ms}\n",
		},
		{
			name: "insecure_skip_verify maps to ssl.verification_mode none",
			yml:  "insecure_skip_verify: true\nsignin_attempts: {enabled: true, auth_token: a}\n",
			check: func(t *testing.T, c Config) {
				if c.Transport.TLS == nil || c.Transport.TLS.VerificationMode != tlscommon.VerifyNone {
					t.Fatalf("TLS = %+v, want verification none", c.Transport.TLS)
				}
			},
		},
		{
			name: "libbeat transport settings are accepted",
			yml:  "timeout: 30s\nproxy_url: http://proxy:3128\nssl.verification_mode: certificate\nsignin_attempts: {enabled: true, auth_token: a}\n",
			check: func(t *testing.T, c Config) {
				if c.Transport.Timeout != 30*time.Second || c.Transport.Proxy.URL == nil {
					t.Fatalf("transport = %+v", c.Transport)
				}
			},
		},
		{
			name: "backfill defaults",
			yml:  "signin_attempts: {enabled: true, auth_token: a}\n",
			check: func(t *testing.T, c Config) {
				if c.Backfill != DefaultBackfill() || c.Backfill.ParallelSlices != 8 || c.Backfill.MinWindow != time.Hour {
					t.Fatalf("backfill = %+v, want parallel_slices 8, min_window 1h", c.Backfill)
				}
			},
		},
		{
			name: "backfill settings",
			yml:  "backfill.parallel_slices: 1\nbackfill.min_window: 24h\nsignin_attempts: {enabled: true, auth_token: a}\n",
			check: func(t *testing.T, c Config) {
				if c.Backfill.ParallelSlices != 1 || c.Backfill.MinWindow != 24*time.Hour {
					t.Fatalf("backfill = %+v", c.Backfill)
				}
			},
		},
		{name: "backfill.parallel_slices 0", yml: "backfill.parallel_slices: 0\nsignin_attempts: {enabled: true}\n", wantErr: "parallel_slices"},
		{name: "backfill.parallel_slices too many", yml: "backfill.parallel_slices: 65\nsignin_attempts: {enabled: true}\n", wantErr: "parallel_slices"},
		{name: "backfill.min_window negative", yml: "backfill.min_window: -1h\nsignin_attempts: {enabled: true}\n", wantErr: "min_window"},
		{name: "nothing enabled", yml: "signin_attempts: {enabled: false}\n", wantErr: "no stream is enabled"},
		{name: "empty section", yml: "{}", wantErr: "no stream is enabled"},
		{name: "sample_frequency below 1s", yml: "item_usages: {enabled: true, auth_token: a, sample_frequency: 500ms}\n", wantErr: "eventsapibeat.item_usages.sample_frequency"},
		{name: "sample_frequency not a duration", yml: "item_usages: {enabled: true, sample_frequency: often}\n", wantErr: "eventsapibeat.item_usages"},
		{name: "empty state file", yml: "audit_events: {enabled: true, auth_token: a, cursor_state_file: ''}\n", wantErr: "eventsapibeat.audit_events.cursor_state_file"},
		{name: "bad api_version", yml: "api_version: v3\nsignin_attempts: {enabled: true}\n", wantErr: "eventsapibeat.api_version"},
		{name: "bad stream api_version", yml: "signin_attempts: {enabled: true, api_version: 2}\n", wantErr: "eventsapibeat.signin_attempts.api_version"},
		{name: "bad url scheme", yml: "url: ftp://x\nsignin_attempts: {enabled: true}\n", wantErr: "eventsapibeat.url"},
		{name: "relative url", yml: "signin_attempts: {enabled: true, url: events.1password.com}\n", wantErr: "eventsapibeat.signin_attempts.url"},
		{
			name: "record_dir",
			yml:  "record_dir: /tmp/rec\nsignin_attempts: {enabled: true, auth_token: a}\n",
			check: func(t *testing.T, c Config) {
				if c.RecordDir != "/tmp/rec" || c.Replaying() {
					t.Fatalf("record_dir = %q, replaying = %v", c.RecordDir, c.Replaying())
				}
			},
		},
		{
			name: "replay_dir needs no auth_token",
			yml:  "replay_dir: /tmp/rec\nsignin_attempts: {enabled: true}\n",
			check: func(t *testing.T, c Config) {
				if c.ReplayDir != "/tmp/rec" || !c.Replaying() {
					t.Fatalf("replay_dir = %q, replaying = %v", c.ReplayDir, c.Replaying())
				}
			},
		},
		{name: "record_dir and replay_dir", yml: "record_dir: /a\nreplay_dir: /b\nsignin_attempts: {enabled: true}\n", wantErr: "eventsapibeat.replay_dir: cannot be combined with record_dir"},
		{name: "enabled not a bool", yml: "signin_attempts: {enabled: maybe}\n", wantErr: "eventsapibeat.signin_attempts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.yml)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestSeed001Sample loads the sample of seed 001 ("Elastic Beat YAML file
// schema") as the user guide prints it. The page indents four lines of the
// output block with a tab, which no YAML parser accepts; with that rendering
// artifact undone (a tab where the block's four spaces belong) the file must
// load with no change to its content.
func TestSeed001Sample(t *testing.T) {
	verbatim, err := os.ReadFile("testdata/seed-001-sample.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := common.LoadFile("testdata/seed-001-sample.yml"); err == nil || !strings.Contains(err.Error(), "tab") {
		t.Fatalf("libbeat loading the verbatim page text: err = %v, want the YAML tab error", err)
	}

	fixed := strings.ReplaceAll(string(verbatim), "\n\t", "\n    ")
	path := t.TempDir() + "/eventsapibeat.yml"
	if err := os.WriteFile(path, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	root, err := common.LoadFile(path)
	if err != nil {
		t.Fatalf("libbeat loading the sample: %v", err)
	}
	section, err := root.Child("eventsapibeat", -1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(section, specs)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	enabled := c.EnabledStreams()
	if len(enabled) != 2 {
		t.Fatalf("enabled streams = %d, want signin_attempts and item_usages", len(enabled))
	}
	want := map[string]string{"signin_attempts": "signinattempts.eventsapibeatstate", "item_usages": "itemusages.eventsapibeatstate"}
	for _, s := range enabled {
		if s.CursorStateFile != want[s.Key] {
			t.Errorf("%s cursor_state_file = %q, want %q", s.Key, s.CursorStateFile, want[s.Key])
		}
		if s.SampleFrequency != 10*time.Second {
			t.Errorf("%s sample_frequency = %s", s.Key, s.SampleFrequency)
		}
		if strings.TrimSpace(s.StartingCursor) != `{ "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }` {
			t.Errorf("%s starting_cursor = %q", s.Key, s.StartingCursor)
		}
	}
	var out struct {
		Index string `config:"output.elasticsearch.index"`
	}
	if err := root.Unpack(&out); err != nil || !strings.Contains(out.Index, "%{[@metadata][event_type]}") {
		t.Errorf("output.elasticsearch.index = %q (%v)", out.Index, err)
	}
}

func TestStreamToken(t *testing.T) {
	cases := []struct {
		name    string
		yml     string
		wantErr string
		// want per stream key: setting, value, file
		want map[string]TokenSetting
	}{
		{
			name: "stream auth_token (2.x)",
			yml:  "signin_attempts: {enabled: true, auth_token: tok}\n",
			want: map[string]TokenSetting{"signin_attempts": {Setting: "eventsapibeat.signin_attempts.auth_token", Value: "tok"}},
		},
		{
			name: "stream auth_token_file",
			yml:  "item_usages: {enabled: true, auth_token_file: /run/secrets/t}\n",
			want: map[string]TokenSetting{"item_usages": {Setting: "eventsapibeat.item_usages.auth_token_file", Value: "/run/secrets/t", File: true}},
		},
		{
			name: "global file, one stream overrides with its own token",
			yml:  "auth_token_file: /g\nsignin_attempts: {enabled: true}\nitem_usages: {enabled: true, auth_token: own}\n",
			want: map[string]TokenSetting{
				"signin_attempts": {Setting: "eventsapibeat.auth_token_file", Value: "/g", File: true},
				"item_usages":     {Setting: "eventsapibeat.item_usages.auth_token", Value: "own"},
			},
		},
		{
			name: "global token, one stream overrides with its own file",
			yml:  "auth_token: g\nsignin_attempts: {enabled: true}\naudit_events: {enabled: true, auth_token_file: /a}\n",
			want: map[string]TokenSetting{
				"signin_attempts": {Setting: "eventsapibeat.auth_token", Value: "g"},
				"audit_events":    {Setting: "eventsapibeat.audit_events.auth_token_file", Value: "/a", File: true},
			},
		},
		{
			name: "an empty stream auth_token falls back to the global one",
			yml:  "auth_token_file: /g\nsignin_attempts: {enabled: true, auth_token: ''}\n",
			want: map[string]TokenSetting{"signin_attempts": {Setting: "eventsapibeat.auth_token_file", Value: "/g", File: true}},
		},
		{
			name: "none: named as the stream's auth_token",
			yml:  "signin_attempts: {enabled: true}\n",
			want: map[string]TokenSetting{"signin_attempts": {Setting: "eventsapibeat.signin_attempts.auth_token"}},
		},
		{name: "both in a stream", yml: "item_usages: {enabled: true, auth_token: t, auth_token_file: /f}\n", wantErr: "eventsapibeat.item_usages.auth_token_file: set either auth_token or auth_token_file under eventsapibeat.item_usages, not both"},
		{name: "both globally", yml: "auth_token: t\nauth_token_file: /f\nitem_usages: {enabled: true}\n", wantErr: "eventsapibeat.auth_token_file: set either"},
		{name: "both in a disabled stream", yml: "signin_attempts: {enabled: true, auth_token: t}\naudit_events: {auth_token: t, auth_token_file: /f}\n", wantErr: "eventsapibeat.audit_events.auth_token_file"},
		{name: "blank file", yml: "signin_attempts: {enabled: true, auth_token_file: '  '}\n", wantErr: "eventsapibeat.signin_attempts.auth_token_file: is blank"},
		{name: "negative warning days", yml: "token_expiry_warning_days: -1\nsignin_attempts: {enabled: true, auth_token: t}\n", wantErr: "token_expiry_warning_days"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.yml)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.Streams {
				want, ok := tc.want[s.Key]
				if !ok {
					continue
				}
				if got := c.StreamToken(s); got != want {
					t.Errorf("%s: StreamToken = %+v, want %+v", s.Key, got, want)
				}
			}
		})
	}
}

func TestStreamTokenUnresolvedVariable(t *testing.T) {
	os.Unsetenv("EVENTSAPIBEAT_TEST_UNSET_TOKEN")
	c, err := load(t, "auth_token: ${EVENTSAPIBEAT_TEST_UNSET_TOKEN}\nsignin_attempts: {enabled: true}\n")
	if err != nil {
		t.Fatal(err)
	}
	got := c.StreamToken(c.Streams[0])
	if got.Setting != "eventsapibeat.auth_token" || got.Err == nil {
		t.Fatalf("StreamToken = %+v, want the global setting with its error", got)
	}
}

func TestTokenExpiryWarningDays(t *testing.T) {
	c, err := load(t, "signin_attempts: {enabled: true, auth_token: t}\n")
	if err != nil || c.TokenExpiryWarningDays != DefaultTokenExpiryWarningDays {
		t.Fatalf("default = %d, %v", c.TokenExpiryWarningDays, err)
	}
	c, err = load(t, "token_expiry_warning_days: 0\nsignin_attempts: {enabled: true, auth_token: t}\n")
	if err != nil || c.TokenExpiryWarningDays != 0 {
		t.Fatalf("0 = %d, %v", c.TokenExpiryWarningDays, err)
	}
}
