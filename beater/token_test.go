package beater

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/elastic/elastic-agent-libs/logp/logptest"

	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

func issueToken(t *testing.T, sim *simulator.Server, opts simulator.TokenOptions) string {
	t.Helper()
	tok, err := sim.IssueToken(opts)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestExplainUnauthorized: the 401 explanation names the likely cause and
// the setting to change, for each cause.
func TestExplainUnauthorized(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	now := time.Now()
	good := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
	expired := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}, IssuedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Hour)})
	noFeature := issueToken(t, sim, simulator.TokenOptions{Features: []string{"auditevents"}})
	tokenFile := filepath.Join(t.TempDir(), "token")

	cases := []struct {
		name       string
		token      string
		file       bool
		introspect func() (*eventsapi.Introspection, error)
		want       []string
	}{
		{"expired per exp", expired, false, nil, []string{"expired at", "exp claim", "eventsapibeat.item_usages.auth_token", "restart"}},
		{"feature missing from the claims", noFeature, true, nil, []string{"lacks the itemusages feature", "auditevents", tokenFile, "without a restart"}},
		{"revoked", good, true, func() (*eventsapi.Introspection, error) {
			return nil, &eventsapi.Error{Kind: eventsapi.KindUnauthorized, Status: 401}
		}, []string{"most likely revoked", "eventsapibeat.item_usages.auth_token_file"}},
		{"feature missing per introspect", good, false, func() (*eventsapi.Introspection, error) {
			return &eventsapi.Introspection{Features: []string{"signinattempts"}}, nil
		}, []string{"per the introspect endpoint", "lacks the itemusages feature", "signinattempts"}},
		{"introspect accepts it", good, false, func() (*eventsapi.Introspection, error) {
			return &eventsapi.Introspection{Features: []string{"itemusages"}}, nil
		}, []string{"may be temporary"}},
		{"introspect unreachable", good, false, func() (*eventsapi.Introspection, error) {
			return nil, &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}
		}, []string{"may be revoked or expired", "503"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token", Value: tc.token}
			if tc.file {
				if err := os.WriteFile(tokenFile, []byte(tc.token), 0o600); err != nil {
					t.Fatal(err)
				}
				ts = config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token_file", Value: tokenFile, File: true}
			}
			st, _, err := openTokens(ts, "item_usages", "itemusages", 14, logptest.NewTestingLogger(t, ""), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			called := false
			e := &unauthorizedExplainer{tokens: st}
			got := e.explain(context.Background(), func(context.Context) (*eventsapi.Introspection, error) {
				called = true
				if tc.introspect == nil {
					t.Fatal("introspect called although the token itself explains the 401")
				}
				return tc.introspect()
			})
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("explanation %q lacks %q", got, w)
				}
			}
			if tc.introspect != nil && !called {
				t.Error("introspect was not asked")
			}
			if strings.Contains(got, tc.token) || strings.Contains(got, "\n") {
				t.Errorf("explanation is not one clean line without the token: %q", got)
			}
		})
	}
}

// TestExplainUnauthorizedAsksOncePerToken: the introspect endpoint's
// verdict is remembered per token, so 401 retries cost no further
// introspect requests; a new token, or a check that failed, is asked again.
func TestExplainUnauthorizedAsksOncePerToken(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	first := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
	second := issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(first), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token_file", Value: tokenFile, File: true}
	st, _, err := openTokens(ts, "item_usages", "itemusages", 0, logptest.NewTestingLogger(t, ""), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	e := &unauthorizedExplainer{tokens: st}
	asked := 0
	answer := error(&eventsapi.Error{Kind: eventsapi.KindUnauthorized, Status: 401})
	introspect := func(context.Context) (*eventsapi.Introspection, error) {
		asked++
		return nil, answer
	}
	steps := []struct {
		name      string
		before    func()
		wantAsked int
		want      string
	}{
		{"first 401", nil, 1, "most likely revoked"},
		{"retry, same token", nil, 1, "most likely revoked"},
		{"another retry", nil, 1, "most likely revoked"},
		{"new token in the file", func() {
			if err := os.WriteFile(tokenFile, []byte(second+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			answer = &eventsapi.Error{Kind: eventsapi.KindTransient, Status: 503}
		}, 2, "503"},
		{"a failed check is not remembered", func() { answer = nil }, 3, "may be temporary"},
		{"the verdict for the new token is remembered", nil, 3, "may be temporary"},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		got := e.explain(context.Background(), func(ctx context.Context) (*eventsapi.Introspection, error) {
			_, err := introspect(ctx)
			if err != nil {
				return nil, err
			}
			return &eventsapi.Introspection{Features: []string{"itemusages"}}, nil
		})
		if asked != step.wantAsked || !strings.Contains(got, step.want) {
			t.Fatalf("%s: asked %d times, want %d; explanation %q, want %q", step.name, asked, step.wantAsked, got, step.want)
		}
	}
}

// TestTokenExpiryWarning: a token that expires within
// token_expiry_warning_days is warned about once a day, not per request.
func TestTokenExpiryWarning(t *testing.T) {
	sim, err := simulator.New(simulator.Config{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	start := time.Now().Truncate(time.Second)
	cases := []struct {
		name     string
		expires  time.Duration // from start; 0 means never
		warnDays int
		steps    []time.Duration // clock advances, a request after each
		want     int             // warnings
	}{
		{"far from expiry", 30 * 24 * time.Hour, 14, []time.Duration{0, time.Hour}, 0},
		{"never expires", 0, 14, []time.Duration{0}, 0},
		{"within the window: once per day", 10 * 24 * time.Hour, 14, []time.Duration{0, time.Minute, time.Hour, 23 * time.Hour, time.Hour}, 2},
		{"enters the window while running", 15 * 24 * time.Hour, 14, []time.Duration{0, 12 * time.Hour, 12 * time.Hour, time.Minute}, 1},
		{"warning off", 2 * 24 * time.Hour, 0, []time.Duration{0, 25 * time.Hour}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := simulator.TokenOptions{Features: []string{"itemusages"}, IssuedAt: start.Add(-time.Hour)}
			if tc.expires != 0 {
				opts.ExpiresAt = start.Add(tc.expires)
			}
			raw := issueToken(t, sim, opts)
			now := start
			logger, logs := logptest.NewTestingLoggerWithObserver(t, "")
			st, _, err := openTokens(config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token", Value: raw}, "item_usages", "itemusages", tc.warnDays, logger, func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range tc.steps {
				now = now.Add(d)
				if _, err := st.Token(); err != nil {
					t.Fatal(err)
				}
			}
			warnings := logs.FilterMessageSnippet("token_expiry_warning_days").All()
			if len(warnings) != tc.want {
				t.Fatalf("%d warnings, want %d: %v", len(warnings), tc.want, warnings)
			}
			for _, w := range warnings {
				if !strings.Contains(w.Message, "eventsapibeat.item_usages.auth_token") || !strings.Contains(w.Message, "days") {
					t.Errorf("warning %q does not name the setting and the days left", w.Message)
				}
			}
		})
	}
}

// TestReadTokenErrors: a token problem is one line that starts with the
// setting's name, has no "eventsapi: " inside, and keeps the cause's chain
// (errors.Is(err, fs.ErrNotExist) for a missing file).
func TestReadTokenErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not-a-token-at-all"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		setting  config.TokenSetting
		want     string
		notExist bool
	}{
		{"missing file", config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token_file", Value: filepath.Join(dir, "nope"), File: true}, "no such file", true},
		{"file without a token", config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token_file", Value: garbage, File: true}, "not a JWT", false},
		{"bad auth_token", config.TokenSetting{Setting: "eventsapibeat.auth_token", Value: "a.b.c"}, "eventsapibeat.auth_token: ", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadToken(tc.setting)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tc.setting.Setting+": ") || !strings.Contains(msg, tc.want) || strings.Contains(msg, "eventsapi: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line starting with %q, containing %q, without \"eventsapi: \"", msg, tc.setting.Setting, tc.want)
			}
			if errors.Is(err, fs.ErrNotExist) != tc.notExist {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = %v, want %v", !tc.notExist, tc.notExist)
			}
		})
	}

	// A token file that turns bad is reported with the same kind of line.
	path := filepath.Join(dir, "rotating")
	sim, err := simulator.New(simulator.Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if err := os.WriteFile(path, []byte(issueToken(t, sim, simulator.TokenOptions{Features: []string{"itemusages"}})), 0o600); err != nil {
		t.Fatal(err)
	}
	logger, observed := logptest.NewTestingLoggerWithObserver(t, "")
	ts := config.TokenSetting{Setting: "eventsapibeat.item_usages.auth_token_file", Value: path, File: true}
	st, _, err := openTokens(ts, "item_usages", "itemusages", 0, logger, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("garbage, longer than before"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Refresh(); err == nil {
		t.Fatal("a bad token file was accepted")
	}
	logged := observed.FilterMessageSnippet("the previous token stays in use").All()
	if len(logged) != 1 || strings.Contains(logged[0].Message, "eventsapi: ") {
		t.Fatalf("logged %v; want one line without \"eventsapi: \"", logged)
	}
}
