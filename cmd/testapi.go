package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/beats/v7/libbeat/cmd/instance"
	"github.com/elastic/elastic-agent-libs/transport/httpcommon"
	"github.com/spf13/cobra"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
)

// maxClockSkew is the clock difference with the API that test api warns
// about: token times and start_time are judged on the server's clock.
const maxClockSkew = time.Minute

// testAPIPageLimit is the page size of the one page test api fetches.
const testAPIPageLimit = 1

// genTestAPICmd is `eventsapibeat test api`, beside libbeat's `test config`
// and `test output`.
func genTestAPICmd(settings instance.Settings) *cobra.Command {
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "api",
		Short: "Test that every enabled stream can read the Events API with its token",
		Long: "For each enabled stream: the token's claims (features, issue and expiry time) against the stream,\n" +
			"the introspect endpoint, one small page of events, the clock skew with the API and the state file.\n" +
			"Prints a verdict per stream and exits non-zero when a stream would fail. Nothing is written, and\n" +
			"the token itself is never printed.",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, _ []string) error {
			setup, err := loadSetup(settings)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			return testAPI(ctx, setup.cfg, setup.enabled(), c.OutOrStdout(), time.Now)
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up after this long")
	return c
}

// verdict is a stream's result.
type verdict int

const (
	verdictOK verdict = iota
	verdictWarn
	verdictFail
)

// streamReport collects what test api found about one stream.
type streamReport struct {
	out      io.Writer
	verdict  verdict
	failures []string
	warnings []string
}

func (r *streamReport) line(label, format string, args ...any) {
	fmt.Fprintf(r.out, "  %-13s %s\n", label+":", fmt.Sprintf(format, args...))
}

func (r *streamReport) warn(reason string) {
	r.verdict = max(r.verdict, verdictWarn)
	r.warnings = append(r.warnings, reason)
}

func (r *streamReport) fail(reason string) {
	r.verdict = verdictFail
	r.failures = append(r.failures, reason)
}

// tokenUse records which streams use a token setting, for the summary of
// token features against enabled streams.
type tokenUse struct {
	features []string
	streams  []string
	lacking  []string
}

// testAPI checks every stream and prints the report. It returns an error
// when a stream would fail.
func testAPI(ctx context.Context, cfg config.Config, refs []streamRef, out io.Writer, now func() time.Time) error {
	if cfg.Replaying() {
		// A replay is meant to run without the account: sending its
		// configuration's tokens to the live API would surprise.
		return fmt.Errorf("eventsapibeat.replay_dir: `test api` checks the live Events API with the configured tokens, not a recording; run it without --replay-dir/replay_dir to check the live API, or `eventsapibeat test config --replay-dir %s` to check the recording", cfg.ReplayDir)
	}
	base, err := cfg.Transport.Client(httpcommon.WithKeepaliveSettings{IdleConnTimeout: cfg.Transport.IdleConnTimeout})
	if err != nil {
		return fmt.Errorf("eventsapibeat: HTTP client settings (ssl, proxy_url, timeout): %w", err)
	}
	clock := &skewClock{next: base.Transport, now: now}
	httpClient := *base
	httpClient.Transport = clock

	uses := map[string]*tokenUse{}
	var failed, warned []string
	for i, ref := range refs {
		if i > 0 {
			fmt.Fprintln(out)
		}
		r := &streamReport{out: out}
		fmt.Fprintf(out, "%s (%s)\n", ref.stream.Key, ref.typ.Name)
		checkStream(ctx, cfg, ref, &httpClient, clock, now, r, uses)
		switch r.verdict {
		case verdictOK:
			r.line("verdict", "OK")
		case verdictWarn:
			r.line("verdict", "OK with warnings: %s", strings.Join(r.warnings, "; "))
			warned = append(warned, ref.stream.Key)
		default:
			also := ""
			if len(r.warnings) > 0 {
				also = " (also: " + strings.Join(r.warnings, "; ") + ")"
			}
			r.line("verdict", "FAIL: %s%s", strings.Join(r.failures, "; "), also)
			failed = append(failed, ref.stream.Key)
		}
	}

	if len(uses) > 0 {
		fmt.Fprintln(out)
		fmt.Fprintln(out, "Tokens and the enabled streams:")
		settings := make([]string, 0, len(uses))
		for s := range uses {
			settings = append(settings, s)
		}
		sort.Strings(settings)
		for _, s := range settings {
			u := uses[s]
			lacking := ""
			if len(u.lacking) > 0 {
				lacking = "; lacks the feature of " + strings.Join(u.lacking, ", ")
			}
			fmt.Fprintf(out, "  %s: features %s; used by %s%s\n", s, orNone(u.features), strings.Join(u.streams, ", "), lacking)
		}
	}

	fmt.Fprintln(out)
	switch {
	case len(failed) > 0:
		fmt.Fprintf(out, "Overall: FAIL: %s would not work (of %d enabled stream(s)).\n", strings.Join(failed, ", "), len(refs))
		return fmt.Errorf("%d of %d stream(s) would fail: %s", len(failed), len(refs), strings.Join(failed, ", "))
	case len(warned) > 0:
		fmt.Fprintf(out, "Overall: OK with warnings (%s); all %d enabled stream(s) can run.\n", strings.Join(warned, ", "), len(refs))
	default:
		fmt.Fprintf(out, "Overall: OK: all %d enabled stream(s) can run.\n", len(refs))
	}
	return nil
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// checkStream runs every check of one stream; a failed step ends it.
func checkStream(ctx context.Context, cfg config.Config, ref streamRef, httpClient *http.Client, clock *skewClock, now func() time.Time, r *streamReport, uses map[string]*tokenUse) {
	s, feature := ref.stream, ref.typ.Name
	ts := cfg.StreamToken(s)
	where := ts.Setting
	if ts.File {
		where += " (" + beater.TokenFilePath(ts.Value) + ")"
	}
	r.line("token", "%s", where)
	tok, err := beater.ReadToken(ts)
	if err != nil {
		r.fail(err.Error())
		return
	}
	u := uses[ts.Setting]
	if u == nil {
		u = &tokenUse{features: tok.Features}
		uses[ts.Setting] = u
	}
	u.streams = append(u.streams, s.Key)

	t := now()
	account := tok.AccountUUID
	if account == "" {
		account = "not in the token"
	}
	r.line("account", "%s", account)
	r.line("issued", "%s", fmtTokenTime(tok.IssuedAt, t))
	r.line("expires", "%s", fmtTokenTime(tok.ExpiresAt, t))
	has := "yes"
	if !tok.HasFeature(feature) {
		has = "NO"
		u.lacking = append(u.lacking, s.Key)
	}
	r.line("features", "%s (this stream needs %s: %s)", orNone(tok.Features), feature, has)
	switch {
	case !tok.HasFeature(feature):
		r.fail(fmt.Sprintf("the token lacks the %s feature; issue a token with this event type enabled", feature))
		return
	case tok.Expired(t):
		r.fail(fmt.Sprintf("the token expired at %s; issue a new one", tok.ExpiresAt.UTC().Format(time.RFC3339)))
		return
	case cfg.TokenExpiryWarningDays > 0 && !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Sub(t) <= time.Duration(cfg.TokenExpiryWarningDays)*24*time.Hour:
		r.warn(fmt.Sprintf("the token expires in %s (token_expiry_warning_days: %d)", humanDuration(tok.ExpiresAt.Sub(t)), cfg.TokenExpiryWarningDays))
	}

	baseURL, origin := cfg.StreamURL(s), "from the url setting"
	if baseURL == "" {
		if baseURL, err = tok.BaseURL(); err != nil {
			r.fail(strings.TrimPrefix(err.Error(), "eventsapi: "))
			return
		}
		origin = "the region of the token's aud claim"
	}
	version, explicit := cfg.StreamAPIVersion(s)
	statePath, err := beater.StatePath(s)
	if err != nil {
		r.fail(err.Error())
		return
	}
	st, stateErr := beater.LoadState(statePath, feature)
	if stateErr == nil && st != nil && st.Reset == nil && st.APIVersion != "" && st.APIVersion != version && !explicit {
		version = st.APIVersion
	}
	plain := ""
	if strings.HasPrefix(baseURL, "http://") {
		plain = "; plain http: the token travels unencrypted (for local testing only)"
	}
	r.line("API", "%s (%s), %s%s", baseURL, origin, version, plain)

	client, err := eventsapi.NewClient(eventsapi.Config{
		BaseURL: baseURL, Token: tok, Version: version, HTTPClient: httpClient,
		UserAgent: beater.Name + "/" + beater.Version + " (test api)",
	})
	if err != nil {
		r.fail(strings.TrimPrefix(err.Error(), "eventsapi: "))
		return
	}

	start := now()
	info, err := client.Introspect(ctx)
	took := now().Sub(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, eventsapi.ErrUnauthorized):
		r.line("introspect", "REFUSED in %s: %v", took, err)
		r.fail("the API refuses the token: it was most likely revoked (or its integration deleted); issue a new token and put it in " + ts.Setting)
		return
	case err != nil:
		r.line("introspect", "FAILED in %s: %v", took, err)
		r.fail(fmt.Sprintf("the introspect endpoint failed (%v); check url, proxy_url and ssl settings", shortErr(err)))
		return
	}
	r.line("introspect", "OK in %s: integration %s, account %s, features %s, issued %s", took, orDash(info.UUID), orDash(info.AccountUUID), orNone(info.Features), fmtTime(optTime(info.IssuedAt)))
	if !slices.Contains(info.Features, feature) {
		r.fail(fmt.Sprintf("per the introspect endpoint the token lacks the %s feature", feature))
		return
	}

	start = now()
	page, err := client.Fetch(ctx, feature, eventsapi.Request{Reset: eventsapi.ResetCursor{Limit: testAPIPageLimit}})
	took = now().Sub(start).Round(time.Millisecond)
	switch {
	case errors.Is(err, eventsapi.ErrRateLimited):
		r.line("one page", "RATE LIMITED in %s: %v", took, err)
		r.warn("the API answered 429: the account's request budget is spent right now (another client, or the beat itself)")
	case errors.Is(err, eventsapi.ErrUnauthorized):
		r.line("one page", "REFUSED in %s: %v", took, err)
		r.fail("the API refuses the token for " + feature + " although introspect accepts it")
		return
	case err != nil:
		r.line("one page", "FAILED in %s: %v", took, err)
		r.fail(fmt.Sprintf("fetching a page failed (%v)", shortErr(err)))
		return
	default:
		more := "no"
		if page.HasMore {
			more = "yes"
		}
		r.line("one page", "OK in %s: %d event(s) of the last hour (limit %d), more: %s", took, len(page.Items), testAPIPageLimit, more)
	}

	if skew, ok := clock.skew(); ok {
		r.line("clock skew", "%s (the API's Date header against this host's clock, ±1s)", fmtSkew(skew))
		if skew > maxClockSkew || skew < -maxClockSkew {
			r.warn(fmt.Sprintf("this host's clock is %s off the API's; token times and start_time are judged on the API's clock, so set up NTP", fmtSkew(skew)))
		}
	} else {
		r.line("clock skew", "unknown (the API sent no Date header)")
	}

	switch {
	case stateErr != nil:
		r.line("state", "UNUSABLE: %v", stateErr)
		r.fail("the state file is unusable; see `eventsapibeat cursor show`")
	case st == nil:
		r.line("state", "%s: none yet; the stream starts from starting_cursor", statePath)
	case st.Reset != nil:
		r.line("state", "%s: reset pending to %s", statePath, st.Reset.StartTime.UTC().Format(time.RFC3339))
	default:
		r.line("state", "%s: cursor present, last event %s", statePath, fmtTime(optTime(st.LastEventTime)))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortErr drops the "eventsapi: " prefix of an error.
func shortErr(err error) string { return strings.TrimPrefix(err.Error(), "eventsapi: ") }

func fmtTokenTime(t, now time.Time) string {
	if t.IsZero() {
		return "never (not in the token)"
	}
	d := t.Sub(now)
	rel := "in " + humanDuration(d)
	if d < 0 {
		rel = humanDuration(-d) + " ago"
	}
	return t.UTC().Format(time.RFC3339) + " (" + rel + ")"
}

func fmtSkew(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d > 0:
		return "the API is " + d.String() + " ahead"
	case d < 0:
		return "the API is " + (-d).String() + " behind"
	default:
		return "none"
	}
}

// skewClock is an http.RoundTripper that compares each response's Date
// header with the local time halfway through the round trip.
type skewClock struct {
	next http.RoundTripper
	now  func() time.Time

	mu       sync.Mutex
	measured bool
	last     time.Duration
}

func (c *skewClock) RoundTrip(req *http.Request) (*http.Response, error) {
	next := c.next
	if next == nil {
		next = http.DefaultTransport
	}
	sent := c.now()
	resp, err := next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	received := c.now()
	if date, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
		// Date has whole seconds: the server's time was in [date, date+1s).
		local := sent.Add(received.Sub(sent) / 2)
		c.mu.Lock()
		c.measured, c.last = true, date.Add(500*time.Millisecond).Sub(local)
		c.mu.Unlock()
	}
	return resp, nil
}

func (c *skewClock) skew() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.measured
}
