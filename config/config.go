// Package config holds the eventsapibeat: section of eventsapibeat.yml.
//
// The schema is a superset of 1Password's eventsapibeat 2.x: every 2.x file
// (insecure_skip_verify plus one section per stream with enabled, auth_token,
// sample_frequency, cursor_state_file and starting_cursor) keeps working
// unchanged. The stream sections are not hard-coded: one is read for each
// event type the beat knows (module/all), under that type's config key.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/transport/httpcommon"
	"github.com/elastic/elastic-agent-libs/transport/tlscommon"
)

// API versions the beat speaks.
const (
	APIv1 = "v1"
	APIv2 = "v2"
)

// MinSampleFrequency is the shortest poll interval accepted, as in 2.x.
const MinSampleFrequency = time.Second

// DefaultTokenExpiryWarningDays is how long before a token expires the beat
// starts to warn: enough for a change request to go through.
const DefaultTokenExpiryWarningDays = 14

// DefaultLimit is the page size asked for when starting_cursor does not say:
// the API's maximum, so a backfill costs the fewest requests.
const DefaultLimit = 1000

// Config is the eventsapibeat: section.
type Config struct {
	// InsecureSkipVerify is the 2.x setting; it maps to ssl.verification_mode: none.
	InsecureSkipVerify bool `config:"insecure_skip_verify"`
	// URL overrides the API base URL for every stream. Empty: https:// + the
	// token's aud[0] host, which is how the region is chosen.
	URL string `config:"url"`
	// APIVersion is v2 or v1. Empty means v2, except that a stream whose
	// state file records another version keeps that version (see the
	// stream worker); set explicitly, a mismatch with the state is an error.
	APIVersion string `config:"api_version"`
	// PreserveOriginalEvent copies the raw API item into event.original
	// (Elastic's preserve_original_event).
	PreserveOriginalEvent bool `config:"preserve_original_event"`
	// RateLimit is the request budget shared by the streams of one account.
	RateLimit RateLimit `config:"rate_limit"`
	// CircuitBreaker stops a stream's requests after repeated failures.
	CircuitBreaker CircuitBreaker `config:"circuit_breaker"`
	// Backoff bounds the wait between retries of a failed request.
	Backoff Backoff `config:"backoff"`
	// Backfill configures the parallel time-sliced backfill.
	Backfill Backfill `config:"backfill"`
	// ShutdownTimeout bounds how long a stop waits for the output to
	// acknowledge in-flight events before writing the last cursor.
	ShutdownTimeout time.Duration `config:"shutdown_timeout" validate:"min=0"`
	// AuthToken and AuthTokenFile are the token of every stream that sets
	// neither of its own (read apart, like a stream's auth_token).
	AuthToken     string `config:"-"`
	AuthTokenErr  error  `config:"-"`
	AuthTokenFile string `config:"auth_token_file"`
	// TokenExpiryWarningDays is how many days before a token's exp claim
	// the beat starts warning about it; 0 turns the warning off.
	TokenExpiryWarningDays int `config:"token_expiry_warning_days" validate:"min=0"`
	// RecordDir, when set, records every Events API exchange of every
	// stream under this directory, tokens removed (--record-dir).
	RecordDir string `config:"record_dir"`
	// ReplayDir, when set, answers every Events API request from a
	// recording in this directory instead of the network (--replay-dir).
	// auth_token is then not needed and ignored.
	ReplayDir string `config:"replay_dir"`
	// ReplayStateDir is where a replay keeps its streams' cursors
	// (<stream>.replay.state); empty means ReplayDir. A replay never uses
	// cursor_state_file, so it cannot move a production cursor.
	ReplayStateDir string `config:"replay_state_dir"`
	// Transport: ssl.*, timeout, proxy_url, ... as every libbeat HTTP client.
	Transport httpcommon.HTTPTransportSettings `config:",inline"`

	// Streams holds one entry per known event type, in the order given to
	// Load, whether or not the section is present in the file.
	Streams []Stream `config:"-"`
}

// RateLimit is the request budget. The API allows 600 requests a minute and
// 30,000 an hour per account; the defaults keep a margin for clock skew and
// for other clients of the same account.
type RateLimit struct {
	PerMinute int `config:"per_minute"`
	PerHour   int `config:"per_hour"`
}

// CircuitBreaker configures the per-stream breaker.
type CircuitBreaker struct {
	FailureThreshold int           `config:"failure_threshold" validate:"min=1"`
	SuccessThreshold int           `config:"success_threshold" validate:"min=1"`
	OpenTimeout      time.Duration `config:"open_timeout" validate:"positive"`
}

// Backoff bounds the exponential backoff (with jitter) between retries.
type Backoff struct {
	Init time.Duration `config:"init" validate:"positive"`
	Max  time.Duration `config:"max" validate:"positive"`
}

// Backfill configures the parallel time-sliced backfill of a stream that is
// far behind: its window is split into time slices fetched side by side.
type Backfill struct {
	// ParallelSlices is how many time slices are fetched at once; 1 reads
	// the window with one cursor chain, as eventsapibeat 2.x did.
	ParallelSlices int `config:"parallel_slices" validate:"min=1,max=64"`
	// MinWindow is how far behind now a stream must be for the parallel
	// backfill to be used.
	MinWindow time.Duration `config:"min_window" validate:"min=0"`
}

// DefaultBackfill is the backfill configuration when none is given.
func DefaultBackfill() Backfill {
	return Backfill{ParallelSlices: 8, MinWindow: time.Hour}
}

// Stream is one stream's section (signin_attempts, item_usages, audit_events, ...).
type Stream struct {
	// Key is the section's name, e.g. "signin_attempts". Set by Load.
	Key string `config:"-"`
	// Present is true when the section exists in the configuration.
	Present bool `config:"-"`

	Enabled bool `config:"enabled"`
	// AuthToken is read apart from the rest of the section: a token that
	// cannot be resolved (an unset ${VAR}, a missing keystore key) stops
	// only its own stream, not the beat.
	AuthToken string `config:"-"`
	// AuthTokenErr is why auth_token could not be read, if it could not.
	AuthTokenErr error `config:"-"`
	// AuthTokenFile is a file holding the token, the alternative to
	// AuthToken; it is read again whenever it changes.
	AuthTokenFile   string        `config:"auth_token_file"`
	SampleFrequency time.Duration `config:"sample_frequency"`
	CursorStateFile string        `config:"cursor_state_file"`
	StartingCursor  string        `config:"starting_cursor"`
	// URL overrides eventsapibeat.url for this stream.
	URL string `config:"url"`
	// APIVersion overrides eventsapibeat.api_version for this stream.
	APIVersion string `config:"api_version"`
}

// DefaultStream returns the defaults of a stream section. As in 2.x a stream
// is off unless enabled; its state file is named after the event type.
func DefaultStream(eventType string) Stream {
	return Stream{
		Enabled:         false,
		SampleFrequency: 10 * time.Second,
		CursorStateFile: "eventsapibeat_" + eventType + ".state",
	}
}

// StreamSpec names a stream section to read: the event type and its key.
type StreamSpec struct {
	EventType string // e.g. "signinattempts"
	Key       string // e.g. "signin_attempts"
}

// Load unpacks and validates the eventsapibeat: section. Errors name the
// setting, e.g. "eventsapibeat.item_usages.sample_frequency: ...".
func Load(raw *conf.C, specs []StreamSpec) (Config, error) {
	c := Config{
		Transport:       httpcommon.DefaultHTTPTransportSettings(),
		ShutdownTimeout: 5 * time.Second,
		RateLimit:       RateLimit{PerMinute: 580, PerHour: 29000},
		CircuitBreaker:  CircuitBreaker{FailureThreshold: 5, SuccessThreshold: 2, OpenTimeout: time.Minute},
		Backoff:         Backoff{Init: time.Second, Max: 2 * time.Minute},
		Backfill:        DefaultBackfill(),

		TokenExpiryWarningDays: DefaultTokenExpiryWarningDays,
	}
	if raw == nil {
		raw = conf.NewConfig()
	}
	if err := raw.Unpack(&c); err != nil {
		return Config{}, fmt.Errorf("eventsapibeat: %w", err)
	}
	if raw.HasField("auth_token") {
		c.AuthToken, c.AuthTokenErr = raw.String("auth_token", -1)
	}
	if err := c.validateGlobal(); err != nil {
		return Config{}, err
	}
	for _, spec := range specs {
		s := DefaultStream(spec.EventType)
		s.Key = spec.Key
		if raw.HasField(spec.Key) {
			s.Present = true
			sub, err := raw.Child(spec.Key, -1)
			if err != nil {
				return Config{}, fmt.Errorf("eventsapibeat.%s: %w", spec.Key, err)
			}
			if err := sub.Unpack(&s); err != nil {
				return Config{}, fmt.Errorf("eventsapibeat.%s: %w", spec.Key, err)
			}
			if sub.HasField("auth_token") {
				s.AuthToken, s.AuthTokenErr = sub.String("auth_token", -1)
			}
		}
		if err := s.validate(); err != nil {
			return Config{}, err
		}
		c.Streams = append(c.Streams, s)
	}
	if len(c.EnabledStreams()) == 0 {
		keys := make([]string, 0, len(specs))
		for _, spec := range specs {
			keys = append(keys, spec.Key)
		}
		return Config{}, fmt.Errorf("eventsapibeat: no stream is enabled; set enabled: true under one of eventsapibeat.%s", strings.Join(keys, ", eventsapibeat."))
	}
	return c, nil
}

// TokenSetting is where a stream's token comes from.
type TokenSetting struct {
	// Setting is the full name of the setting that holds the token, e.g.
	// "eventsapibeat.item_usages.auth_token_file" or
	// "eventsapibeat.auth_token".
	Setting string
	// Value is the token (for auth_token) or the file's path (for
	// auth_token_file); empty when no token is configured.
	Value string
	// Err is why an auth_token could not be read (an unset ${VAR}).
	Err error
	// File is true when Value is the path of a token file.
	File bool
}

// StreamToken says where s's token comes from. A stream's own auth_token or
// auth_token_file wins over the global ones, as url and api_version do. With
// none set, Setting names the stream's auth_token and Value is empty.
func (c Config) StreamToken(s Stream) TokenSetting {
	prefix := "eventsapibeat." + s.Key + "."
	switch {
	case s.AuthTokenFile != "":
		return TokenSetting{Setting: prefix + "auth_token_file", Value: s.AuthTokenFile, File: true}
	case s.AuthTokenErr != nil || s.AuthToken != "":
		return TokenSetting{Setting: prefix + "auth_token", Value: s.AuthToken, Err: s.AuthTokenErr}
	case c.AuthTokenFile != "":
		return TokenSetting{Setting: "eventsapibeat.auth_token_file", Value: c.AuthTokenFile, File: true}
	case c.AuthTokenErr != nil || c.AuthToken != "":
		return TokenSetting{Setting: "eventsapibeat.auth_token", Value: c.AuthToken, Err: c.AuthTokenErr}
	default:
		return TokenSetting{Setting: prefix + "auth_token"}
	}
}

// Replaying reports whether the beat answers from a recording instead of
// calling the Events API.
func (c Config) Replaying() bool { return c.ReplayDir != "" }

// ReplayStateFile is the state file a replay uses for stream s instead of
// its cursor_state_file, and the setting that chose its directory.
func (c Config) ReplayStateFile(s Stream) (path, setting string) {
	dir, setting := c.ReplayStateDir, "eventsapibeat.replay_state_dir"
	if dir == "" {
		dir, setting = c.ReplayDir, "eventsapibeat.replay_dir"
	}
	return filepath.Join(dir, s.Key+".replay.state"), setting
}

// EnabledStreams returns the streams with enabled: true.
func (c Config) EnabledStreams() []Stream {
	var out []Stream
	for _, s := range c.Streams {
		if s.Enabled {
			out = append(out, s)
		}
	}
	return out
}

// StreamURL is the base URL override that applies to s ("" when none).
func (c Config) StreamURL(s Stream) string {
	if s.URL != "" {
		return s.URL
	}
	return c.URL
}

// StreamAPIVersion is the API version that applies to s and whether the user
// chose it explicitly (rather than taking the v2 default).
func (c Config) StreamAPIVersion(s Stream) (version string, explicit bool) {
	switch {
	case s.APIVersion != "":
		return s.APIVersion, true
	case c.APIVersion != "":
		return c.APIVersion, true
	default:
		return APIv2, false
	}
}

func (c *Config) validateGlobal() error {
	if c.RateLimit.PerMinute == 0 || c.RateLimit.PerHour == 0 {
		return fmt.Errorf("eventsapibeat.rate_limit: per_minute and per_hour must be positive (or negative for no limit)")
	}
	if c.Backoff.Max < c.Backoff.Init {
		return fmt.Errorf("eventsapibeat.backoff.max: %s is less than backoff.init %s", c.Backoff.Max, c.Backoff.Init)
	}
	if err := validateAPIVersion("eventsapibeat.api_version", c.APIVersion); err != nil {
		return err
	}
	if err := validateURL("eventsapibeat.url", c.URL); err != nil {
		return err
	}
	if err := validateTokenChoice("eventsapibeat.", c.AuthToken, c.AuthTokenErr, c.AuthTokenFile); err != nil {
		return err
	}
	if c.RecordDir != "" && c.ReplayDir != "" {
		return fmt.Errorf("eventsapibeat.replay_dir: cannot be combined with record_dir (%s); a replay would only record itself", c.RecordDir)
	}
	if c.InsecureSkipVerify {
		// The 2.x flag is expressed with libbeat's own TLS settings, so that
		// one code path builds every HTTP client.
		applyInsecure(&c.Transport)
	}
	return nil
}

func (s *Stream) validate() error {
	if err := validateAPIVersion("eventsapibeat."+s.Key+".api_version", s.APIVersion); err != nil {
		return err
	}
	if err := validateURL("eventsapibeat."+s.Key+".url", s.URL); err != nil {
		return err
	}
	if err := validateTokenChoice("eventsapibeat."+s.Key+".", s.AuthToken, s.AuthTokenErr, s.AuthTokenFile); err != nil {
		return err
	}
	if !s.Enabled {
		return nil
	}
	if s.SampleFrequency < MinSampleFrequency {
		return fmt.Errorf("eventsapibeat.%s.sample_frequency: %s is less than the minimum of %s", s.Key, s.SampleFrequency, MinSampleFrequency)
	}
	if strings.TrimSpace(s.CursorStateFile) == "" {
		return fmt.Errorf("eventsapibeat.%s.cursor_state_file: must not be empty", s.Key)
	}
	return nil
}

// validateTokenChoice refuses auth_token and auth_token_file side by side:
// which one the user meant cannot be guessed.
func validateTokenChoice(prefix, token string, tokenErr error, file string) error {
	if strings.TrimSpace(file) == "" {
		if file != "" {
			return fmt.Errorf("%sauth_token_file: is blank; give the path of the file that holds the token", prefix)
		}
		return nil
	}
	if token != "" || tokenErr != nil {
		return fmt.Errorf("%sauth_token_file: set either auth_token or auth_token_file under %s, not both", prefix, strings.TrimSuffix(prefix, "."))
	}
	return nil
}

func validateAPIVersion(setting, v string) error {
	switch v {
	case "", APIv1, APIv2:
		return nil
	default:
		return fmt.Errorf("%s: %q is not a supported API version; use v2 or v1", setting, v)
	}
}

func validateURL(setting, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", setting, errors.Unwrap(err))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s: %q must be an absolute http:// or https:// URL", setting, raw)
	}
	return nil
}

// applyInsecure turns insecure_skip_verify into ssl.verification_mode: none
// (full is the zero value, so an explicit "full" cannot be told apart; the
// 2.x flag wins, as it did in 2.x).
func applyInsecure(t *httpcommon.HTTPTransportSettings) {
	if t.TLS == nil {
		t.TLS = &tlscommon.Config{}
	}
	if t.TLS.VerificationMode == tlscommon.VerifyFull {
		t.TLS.VerificationMode = tlscommon.VerifyNone
	}
}
