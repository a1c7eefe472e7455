package beater

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/elastic/elastic-agent-libs/logp"

	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/stream"
)

// expiryWarningRepeat is how often the warning about a token that expires
// soon is repeated while the beat runs.
const expiryWarningRepeat = 24 * time.Hour

// ReadToken reads and parses the token that a stream's setting points at,
// once. Errors start with the setting's name and never contain the token.
func ReadToken(ts config.TokenSetting) (eventsapi.Token, error) {
	if ts.Err != nil {
		return eventsapi.Token{}, fmt.Errorf("%s: cannot be read (%w); if it refers to a ${VARIABLE}, set it in the environment or add it with `eventsapibeat keystore add`", ts.Setting, ts.Err)
	}
	if strings.TrimSpace(ts.Value) == "" {
		return eventsapi.Token{}, fmt.Errorf("%s: missing; set the Events Reporting bearer token with auth_token (for example auth_token: ${%s}, from the keystore or the environment) or auth_token_file (a file that holds it)", ts.Setting, tokenVariable(ts.Setting))
	}
	if ts.File {
		src, err := eventsapi.NewFileTokenSource(TokenFilePath(ts.Value), eventsapi.FileTokenSourceOptions{})
		if err != nil {
			return eventsapi.Token{}, fmt.Errorf("%s: %w", ts.Setting, err)
		}
		return src.Token()
	}
	tok, err := eventsapi.ParseToken(ts.Value)
	if err != nil {
		return eventsapi.Token{}, fmt.Errorf("%s: %w", ts.Setting, err)
	}
	return tok, nil
}

// TokenFilePath resolves an auth_token_file: relative paths are relative to
// the working directory, like cursor_state_file.
func TokenFilePath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// tokenVariable suggests a variable name for the setting's token, e.g.
// ITEM_USAGES_TOKEN for eventsapibeat.item_usages.auth_token.
func tokenVariable(setting string) string {
	parts := strings.Split(setting, ".")
	if len(parts) == 3 {
		return strings.ToUpper(parts[1]) + "_TOKEN"
	}
	return "EVENTS_API_TOKEN"
}

// tokenFix says how to put a new token in place for the setting in use.
func tokenFix(ts config.TokenSetting) string {
	if ts.File {
		return fmt.Sprintf("write the new token into %s (%s); it is read again without a restart", TokenFilePath(ts.Value), ts.Setting)
	}
	return fmt.Sprintf("put the new token in %s (or the keystore key or environment variable it refers to) and restart the beat; with auth_token_file instead, a new token is picked up without a restart", ts.Setting)
}

// streamTokens is a stream's token source and the logging around it.
type streamTokens struct {
	key     string
	feature string
	setting config.TokenSetting
	log     *logp.Logger
	now     func() time.Time
	// baseURL is the URL the stream uses, fixed at start.
	baseURL    string
	urlFromAud bool
	warnBefore time.Duration

	source eventsapi.TokenSource

	mu         sync.Mutex
	warnedExp  time.Time
	lastWarned time.Time
}

// openTokens builds the token source of a stream: the fixed auth_token, or
// auth_token_file read again whenever the file changes.
func openTokens(ts config.TokenSetting, key, feature string, warnDays int, logger *logp.Logger, now func() time.Time) (*streamTokens, eventsapi.Token, error) {
	st := &streamTokens{
		key: key, feature: feature, setting: ts, log: logger, now: now,
		warnBefore: time.Duration(warnDays) * 24 * time.Hour,
	}
	initial, err := ReadToken(ts)
	if err != nil {
		return nil, eventsapi.Token{}, err
	}
	if !ts.File {
		st.source = eventsapi.StaticToken(initial)
		return st, initial, nil
	}
	path := TokenFilePath(ts.Value)
	src, err := eventsapi.NewFileTokenSource(path, eventsapi.FileTokenSourceOptions{
		OnChange: st.changed,
		OnError: func(err error) {
			st.log.Errorf("stream %s: %s: %v; the previous token stays in use until the file holds a valid token", key, ts.Setting, err)
		},
	})
	if err != nil {
		return nil, eventsapi.Token{}, fmt.Errorf("%s: %w", ts.Setting, err)
	}
	if initial, err = src.Token(); err != nil {
		return nil, eventsapi.Token{}, fmt.Errorf("%s: %w", ts.Setting, err)
	}
	warnLoosePermissions(logger, key, ts.Setting, path)
	st.source = src
	return st, initial, nil
}

// warnLoosePermissions warns when others than the owner may read the token
// file (on systems with Unix permissions).
func warnLoosePermissions(logger *logp.Logger, key, setting, path string) {
	if runtime.GOOS == "windows" {
		return
	}
	info, err := os.Stat(path)
	if err == nil && info.Mode().Perm()&0o077 != 0 {
		logger.Warnf("stream %s: %s: %s is readable by others than its owner (mode %04o); chmod 600 it", key, setting, path, info.Mode().Perm())
	}
}

// changed logs a token read from a rewritten token file.
func (st *streamTokens) changed(tok eventsapi.Token) {
	st.log.Infof("stream %s: read a new token from %s (%s): features %s, issued %s, expires %s", st.key, TokenFilePath(st.setting.Value), st.setting.Setting, strings.Join(tok.Features, ", "), fmtTime(tok.IssuedAt), fmtExpiry(tok.ExpiresAt))
	if !tok.HasFeature(st.feature) {
		st.log.Errorf("stream %s: the new token in %s lacks the %s feature (it has: %s); the API will refuse it for this stream", st.key, st.setting.Setting, st.feature, strings.Join(tok.Features, ", "))
	}
	if st.urlFromAud {
		if u, err := tok.BaseURL(); err == nil && u != st.baseURL {
			st.log.Warnf("stream %s: the new token is for %s, but the stream keeps using %s until the beat restarts", st.key, u, st.baseURL)
		}
	}
}

// Token returns the current token and warns, at most once a day per token,
// when it expires within token_expiry_warning_days.
func (st *streamTokens) Token() (eventsapi.Token, error) {
	tok, err := st.source.Token()
	if err != nil || st.warnBefore <= 0 || tok.ExpiresAt.IsZero() {
		return tok, err
	}
	now := st.now()
	left := tok.ExpiresAt.Sub(now)
	if left > st.warnBefore {
		return tok, nil
	}
	st.mu.Lock()
	due := !tok.ExpiresAt.Equal(st.warnedExp) || now.Sub(st.lastWarned) >= expiryWarningRepeat
	if due {
		st.warnedExp, st.lastWarned = tok.ExpiresAt, now
	}
	st.mu.Unlock()
	if due {
		st.warnExpiry(tok, left)
	}
	return tok, nil
}

// Refresh re-reads a token file.
func (st *streamTokens) Refresh() (bool, error) { return st.source.Refresh() }

func (st *streamTokens) warnExpiry(tok eventsapi.Token, left time.Duration) {
	if left <= 0 {
		st.log.Errorf("stream %s: the token in %s expired at %s; issue a new one and %s", st.key, st.setting.Setting, fmtTime(tok.ExpiresAt), tokenFix(st.setting))
		return
	}
	st.log.Warnf("stream %s: the token in %s expires at %s, in %s (token_expiry_warning_days); issue a new one and %s", st.key, st.setting.Setting, fmtTime(tok.ExpiresAt), humanDuration(left), tokenFix(st.setting))
}

// unauthorizedExplainer finds the likely cause of a 401: a token expired per
// its exp claim, one the introspect endpoint no longer accepts (revoked), or
// one that lacks the stream's feature.
//
// The worker asks on every 401 retry. The introspect endpoint's verdict is
// remembered per token (by a hash of it), so a token costs at most one
// introspect request until it changes; only a failed check is repeated.
type unauthorizedExplainer struct {
	tokens *streamTokens

	mu sync.Mutex
	// verdictFor is the sha256 of the bearer token verdict is about.
	verdictFor [sha256.Size]byte
	verdict    string
}

// explain returns one sentence: the cause and the fix, naming the setting.
func (e *unauthorizedExplainer) explain(ctx context.Context, introspect stream.IntrospectFunc) string {
	st := e.tokens
	fix := tokenFix(st.setting)
	tok, err := st.source.Token()
	if err != nil {
		return fmt.Sprintf("no usable token (%v); %s", err, fix)
	}
	if tok.Expired(st.now()) {
		return fmt.Sprintf("the token expired at %s (its exp claim); issue a new token and %s", fmtTime(tok.ExpiresAt), fix)
	}
	if !tok.HasFeature(st.feature) {
		return fmt.Sprintf("the token lacks the %s feature (its claims list: %s); issue a token with this event type enabled and %s", st.feature, strings.Join(tok.Features, ", "), fix)
	}
	key := sha256.Sum256([]byte(tok.Bearer()))
	e.mu.Lock()
	if e.verdict != "" && e.verdictFor == key {
		verdict := e.verdict
		e.mu.Unlock()
		return verdict
	}
	e.mu.Unlock()

	info, err := introspect(ctx)
	var verdict string
	switch {
	case err == nil && !slices.Contains(info.Features, st.feature):
		verdict = fmt.Sprintf("per the introspect endpoint the token lacks the %s feature (it has: %s); issue a token with this event type enabled and %s", st.feature, strings.Join(info.Features, ", "), fix)
	case err == nil:
		verdict = fmt.Sprintf("the introspect endpoint accepts the token with the %s feature, so the refusal may be temporary (or from a proxy); if it persists, issue a new token and %s", st.feature, fix)
	case errors.Is(err, eventsapi.ErrUnauthorized):
		verdict = fmt.Sprintf("the introspect endpoint refuses the token too, and it has not expired: it was most likely revoked (or its integration deleted); issue a new token and %s", fix)
	case errors.Is(err, eventsapi.ErrTokenChanged):
		return "the token file holds a new token since this refusal; the next request uses it"
	case ctx.Err() != nil:
		return "the token may be revoked or expired; " + fix
	default:
		// Not remembered: the next 401 checks again.
		return fmt.Sprintf("the token may be revoked or expired (checking it with the introspect endpoint failed: %v); %s", err, fix)
	}
	e.mu.Lock()
	e.verdictFor, e.verdict = key, verdict
	e.mu.Unlock()
	return verdict
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtExpiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmtTime(t)
}

// humanDuration prints d in days and hours, or less for short spans.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	default:
		return d.Round(time.Second).String()
	}
}
