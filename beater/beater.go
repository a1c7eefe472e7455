// Package beater is eventsapibeat's libbeat Beater: it reads the
// configuration, checks each enabled stream (token, feature, state file),
// starts one generic stream worker per stream that can run, and stops them
// cleanly. A stream that cannot run is reported and skipped; the beat fails
// only when no stream can run.
package beater

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/monitoring"
	"github.com/elastic/elastic-agent-libs/transport/httpcommon"

	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/breaker"
	"github.com/eventsapibeat/eventsapibeat/internal/budget"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/recording"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
	"github.com/eventsapibeat/eventsapibeat/internal/stream"
	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// Name is the beat's name: config file, keystore, index prefix, logger.
const Name = "eventsapibeat"

// Version is the beat's version, reported by `version` and in agent.version.
const Version = "3.0.0"

// dataWindow is how far back the Events API keeps data.
const dataWindow = 120 * 24 * time.Hour

// Beater runs the enabled streams.
type Beater struct {
	log     *logp.Logger
	workers []*stream.Worker
	streams []string // keys of the streams that run
	// clientsTimeout bounds the wait for the streams' clients to close.
	clientsTimeout time.Duration
	ctx            context.Context
	cancel         context.CancelFunc
}

// Options adjust the beater for tests and tools; `run` uses the zero value.
type Options struct {
	// MonitoringClock is the clock of the streams' lag, cursor age and
	// progress lines (time.Now when nil); a test sets the simulator's.
	MonitoringClock func() time.Time
}

// New is the beat.Creator. It runs for `run` and for `test config`, so every
// configuration, token and state problem is reported here, one line each.
func New(b *beat.Beat, raw *conf.C) (beat.Beater, error) {
	return NewWithOptions(b, raw, Options{})
}

// NewWithOptions is New with opts.
func NewWithOptions(b *beat.Beat, raw *conf.C, opts Options) (beat.Beater, error) {
	logger := b.Info.Logger
	if logger == nil {
		logger = logp.NewLogger(Name)
	}
	logger = logger.Named(Name)

	cfg, types, err := LoadConfig(raw)
	if err != nil {
		return nil, err
	}
	httpClient, err := cfg.Transport.Client(httpcommon.WithKeepaliveSettings{IdleConnTimeout: cfg.Transport.IdleConnTimeout})
	if err != nil {
		return nil, fmt.Errorf("eventsapibeat: HTTP client settings (ssl, proxy_url, timeout): %w", err)
	}
	traffic, err := newAPITraffic(cfg, httpClient, logger)
	if err != nil {
		return nil, err
	}

	var reg *monitoring.Registry
	if b.Monitoring.StatsRegistry() != nil {
		reg = b.Monitoring.StatsRegistry().GetOrCreateRegistry(Name)
	}

	budgets := budget.NewRegistry(budget.Config{PerMinute: cfg.RateLimit.PerMinute, PerHour: cfg.RateLimit.PerHour})
	// The streams of one account share the backfill's page slots, as they
	// share the request budget.
	pagePools := map[string]*stream.PagePool{}
	pagePool := func(account string) *stream.PagePool {
		if pagePools[account] == nil {
			pagePools[account] = stream.NewPagePool(cfg.Backfill.ParallelSlices)
		}
		return pagePools[account]
	}
	bt := &Beater{log: logger}
	bt.ctx, bt.cancel = context.WithCancel(context.Background())
	var problems []string
	seenState := map[string]string{}
	for i, t := range types {
		s := cfg.Streams[i]
		if !s.Enabled {
			continue
		}
		streamHTTP, err := traffic.client(s.Key)
		var wc stream.Config
		if err == nil {
			wc, err = prepare(cfg, s, t, streamHTTP, budgets, pagePool, logger, time.Now())
		}
		if err != nil {
			problems = append(problems, err.Error())
			logger.Errorf("stream %s will not run: %v", s.Key, err)
			continue
		}
		if other, dup := seenState[wc.StatePath]; dup {
			return nil, fmt.Errorf("eventsapibeat.%s.cursor_state_file: %s is also the state file of eventsapibeat.%s; each stream needs its own", s.Key, wc.StatePath, other)
		}
		seenState[wc.StatePath] = s.Key
		if reg != nil {
			wc.Metrics = stream.NewMetricsWithClock(reg.GetOrCreateRegistry(s.Key), opts.MonitoringClock)
		}
		bt.workers = append(bt.workers, stream.New(wc))
		bt.streams = append(bt.streams, s.Key)
	}
	if len(bt.workers) == 0 {
		return nil, fmt.Errorf("no stream can run: %s", strings.Join(problems, "; "))
	}
	bt.clientsTimeout = cfg.ShutdownTimeout + 2*time.Second
	// libbeat closes the publisher pipeline before it calls Stop; the
	// guard closes the streams' clients first (see beforePipelineClose).
	if b.Publisher != nil {
		b.Publisher = &guardedPipeline{Pipeline: b.Publisher, beforeClose: bt.beforePipelineClose}
	}
	return bt, nil
}

// guardedPipeline is the publisher pipeline with a hook before Close.
type guardedPipeline struct {
	beat.Pipeline
	beforeClose func()
}

// Close runs the hook, then closes the pipeline.
func (p *guardedPipeline) Close() error {
	p.beforeClose()
	if c, ok := p.Pipeline.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// beforePipelineClose stops the streams and waits until each has closed its
// publisher client: a closing pipeline drops the events it still holds and
// reports them as acknowledged to connected clients, which would move a
// cursor past events that were never delivered. The wait is bounded in
// case a stream never started.
func (bt *Beater) beforePipelineClose() {
	bt.cancel()
	deadline := time.NewTimer(bt.clientsTimeout)
	defer deadline.Stop()
	for _, w := range bt.workers {
		select {
		case <-w.ClientClosed():
		case <-deadline.C:
			bt.log.Warn("a stream did not close its publisher client in time; closing the pipeline anyway")
			return
		}
	}
}

// prepare checks one enabled stream and builds its worker configuration.
func prepare(cfg config.Config, s config.Stream, t module.Type, httpClient *http.Client, budgets *budget.Registry, pagePool func(account string) *stream.PagePool, logger *logp.Logger, now time.Time) (stream.Config, error) {
	setting := "eventsapibeat." + s.Key
	tokenSetting := cfg.StreamToken(s)
	if cfg.Replaying() {
		// A replay sends nothing anywhere, so it needs no real token.
		tokenSetting = config.TokenSetting{Setting: setting + ".auth_token", Value: recording.PlaceholderToken(t.Name)}
	}
	tokens, token, err := openTokens(tokenSetting, s.Key, t.Name, cfg.TokenExpiryWarningDays, logger, time.Now)
	if err != nil {
		return stream.Config{}, err
	}
	if !token.HasFeature(t.Name) {
		have := "none"
		if len(token.Features) > 0 {
			have = strings.Join(token.Features, ", ")
		}
		return stream.Config{}, fmt.Errorf("%s: the token lacks the %s feature (it has: %s); issue a token with this event type enabled", tokenSetting.Setting, t.Name, have)
	}
	if token.Expired(now) {
		return stream.Config{}, fmt.Errorf("%s: the token expired at %s; issue a new token", tokenSetting.Setting, token.ExpiresAt.UTC().Format(time.RFC3339))
	}

	baseURL := cfg.StreamURL(s)
	if baseURL == "" {
		if baseURL, err = token.BaseURL(); err != nil {
			return stream.Config{}, fmt.Errorf("%s: %w", tokenSetting.Setting, err)
		}
		tokens.urlFromAud = true
	}
	tokens.baseURL = baseURL
	if strings.HasPrefix(baseURL, "http://") && !cfg.Replaying() {
		logger.Warnf("stream %s: the Events API URL %s is plain http; the token travels unencrypted (use this only for local testing)", s.Key, baseURL)
	}

	start, err := eventsapi.ParseResetCursor(s.StartingCursor)
	if err != nil {
		return stream.Config{}, fmt.Errorf("%s.starting_cursor: %w", setting, err)
	}
	if strings.TrimSpace(s.StartingCursor) == "" {
		// The whole data window, in the largest pages.
		from := now.Add(-dataWindow).UTC()
		start = eventsapi.ResetCursor{Limit: config.DefaultLimit, StartTime: &from}
	}

	statePath, stateSetting, err := streamStatePath(cfg, s)
	if err != nil {
		return stream.Config{}, err
	}
	version, explicit := cfg.StreamAPIVersion(s)
	resume, err := loadState(statePath, t.Name)
	if err != nil {
		return stream.Config{}, fmt.Errorf("%s: %w", stateSetting, err)
	}
	if err := checkReplayMark(resume, statePath, cfg.Replaying()); err != nil {
		return stream.Config{}, fmt.Errorf("%s: %w", stateSetting, err)
	}
	if resume != nil && resume.Reset != nil {
		start = resetCursorOf(*resume.Reset, start)
		if err := start.Validate(); err != nil {
			return stream.Config{}, fmt.Errorf("%s: the reset in %s is unusable (%w); run `eventsapibeat cursor reset` again", stateSetting, statePath, err)
		}
		logger.Infof("stream %s: %s holds a reset (from `eventsapibeat cursor reset`): starting again from %s; the first acknowledged page replaces it", s.Key, statePath, resume.Reset.StartTime.UTC().Format(time.RFC3339))
		resume = nil
	}
	if resume != nil && resume.APIVersion != "" && resume.APIVersion != version {
		if explicit {
			return stream.Config{}, fmt.Errorf("%s: %s holds a cursor of API %s but api_version is %s; set api_version: %s to continue from it, or move the file away and set starting_cursor to restart from a time", stateSetting, statePath, resume.APIVersion, version, resume.APIVersion)
		}
		logger.Infof("stream %s: continuing on API %s, the version of the cursor in %s", s.Key, resume.APIVersion, statePath)
		version = resume.APIVersion
	}
	if err := state.CheckWritable(statePath); err != nil {
		return stream.Config{}, fmt.Errorf("%s: %w", stateSetting, err)
	}

	// The API's limits are per account: streams of one account share a
	// budget (the host stands in when the token does not name the account).
	account := token.AccountUUID
	if account == "" {
		account = baseURL
	}

	userAgent := Name + "/" + Version
	newClient := func(apiVersion string) (*eventsapi.Client, error) {
		return eventsapi.NewClient(eventsapi.Config{
			BaseURL:    baseURL,
			Tokens:     tokens,
			Version:    apiVersion,
			HTTPClient: httpClient,
			UserAgent:  userAgent,
		})
	}
	streamBudget := budgets.For(account)
	explainer := &unauthorizedExplainer{tokens: tokens}
	// Warn at start if the token expires soon; later the token source
	// repeats the warning once a day.
	_, _ = tokens.Token()
	return stream.Config{
		Key:                s.Key,
		Type:               t,
		APIVersion:         version,
		APIVersionExplicit: explicit,
		StatePath:          statePath,
		ReplayState:        cfg.Replaying(),
		Resume:             resume,
		Start:              start,
		SampleFrequency:    s.SampleFrequency,
		PreserveOriginal:   cfg.PreserveOriginalEvent,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		Logger:             logger,
		RetryInit:          cfg.Backoff.Init,
		RetryMax:           cfg.Backoff.Max,
		Budget:             streamBudget,
		Backfill: stream.BackfillConfig{
			Slices:    backfillSlices(cfg),
			MinWindow: cfg.Backfill.MinWindow,
			Pages:     pagePool(account),
		},
		Breaker: breaker.Config{
			FailureThreshold: cfg.CircuitBreaker.FailureThreshold,
			SuccessThreshold: cfg.CircuitBreaker.SuccessThreshold,
			OpenTimeout:      cfg.CircuitBreaker.OpenTimeout,
		},
		NewFetcher: func(apiVersion string) (stream.Fetcher, error) {
			return newClient(apiVersion)
		},
		ExplainUnauthorized: explainer.explain,
	}, nil
}

// backfillSlices is the number of parallel backfill slices. Recording and
// replaying read one cursor chain: a replay answers requests without a
// cursor in recorded order, and slices planned from a different "now" would
// not match the recorded ones.
func backfillSlices(cfg config.Config) int {
	if cfg.RecordDir != "" || cfg.Replaying() {
		return 1
	}
	return cfg.Backfill.ParallelSlices
}

// resetCursorOf turns a state file's pending reset into the stream's first
// request, keeping starting_cursor's page size unless the reset sets one.
func resetCursorOf(r state.Reset, configured eventsapi.ResetCursor) eventsapi.ResetCursor {
	from := r.StartTime.UTC()
	limit := r.Limit
	if limit == 0 {
		limit = configured.Limit
	}
	if limit == 0 {
		limit = config.DefaultLimit
	}
	return eventsapi.ResetCursor{Limit: limit, StartTime: &from}
}

// LoadConfig reads the eventsapibeat: section; the types are those of
// cfg.Streams, index for index.
func LoadConfig(raw *conf.C) (config.Config, []module.Type, error) {
	types := all.Types()
	specs := make([]config.StreamSpec, len(types))
	for i, t := range types {
		specs[i] = config.StreamSpec{EventType: t.Name, Key: t.ConfigKey}
	}
	cfg, err := config.Load(raw, specs)
	return cfg, types, err
}

// StatePath is the absolute path of a stream's cursor_state_file: relative
// paths resolve against the working directory, as in 2.x.
func StatePath(s config.Stream) (string, error) {
	p, err := filepath.Abs(s.CursorStateFile)
	if err != nil {
		return "", fmt.Errorf("eventsapibeat.%s.cursor_state_file: %w", s.Key, err)
	}
	return p, nil
}

// streamStatePath is the absolute path of the state file stream s uses,
// and the setting that names it in errors. A replay never uses
// cursor_state_file: its cursors come from a recording and must not move a
// production cursor, even when the replay runs with the production
// configuration.
func streamStatePath(cfg config.Config, s config.Stream) (path, setting string, err error) {
	if !cfg.Replaying() {
		path, err = StatePath(s)
		return path, "eventsapibeat." + s.Key + ".cursor_state_file", err
	}
	path, setting = cfg.ReplayStateFile(s)
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", setting, err)
	}
	return abs, setting, nil
}

// checkReplayMark keeps replay cursors and production cursors apart: a
// replay continues only a state a replay wrote, and a run against the API
// never continues one.
func checkReplayMark(st *state.State, path string, replaying bool) error {
	switch {
	case st == nil || st.Replay == replaying:
		return nil
	case replaying:
		return fmt.Errorf(`%s was not written by a replay (it has no "replay": true) and a replay never continues such a cursor; move the file away, or, to replay from a copy of a production state file, add "replay": true to the copy`, path)
	default:
		return fmt.Errorf(`%s was written by a replay ("replay": true): its cursor comes from a recording, not from the API; point cursor_state_file at the stream's own state file, or move this one away to start from starting_cursor`, path)
	}
}

// LoadState reads a stream's state file and checks that it belongs to the
// stream; nil, nil when there is no state yet.
func LoadState(path, eventType string) (*state.State, error) { return loadState(path, eventType) }

// loadState reads a stream's state; nil when there is none yet.
func loadState(path, eventType string) (*state.State, error) {
	st, err := state.Load(path)
	if errors.Is(err, state.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if st.Stream != "" && st.Stream != eventType {
		return nil, fmt.Errorf("%s holds the cursor of the %s stream, not %s; give each stream its own cursor_state_file", path, st.Stream, eventType)
	}
	return &st, nil
}

// Streams returns the configuration keys of the streams that will run.
func (bt *Beater) Streams() []string { return bt.streams }

// Run starts every worker and returns when all have stopped.
func (bt *Beater) Run(b *beat.Beat) error {
	bt.log.Infof("%s %s is running with %d stream(s); stop with Ctrl-C", Name, Version, len(bt.workers))
	var wg sync.WaitGroup
	for _, w := range bt.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(bt.ctx, b.Publisher); err != nil {
				bt.log.Error(err)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Stop asks every worker to stop; Run returns once they have flushed.
func (bt *Beater) Stop() { bt.cancel() }
