package beater

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/elastic/elastic-agent-libs/logp"

	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/recording"
)

// apiTraffic puts the record or replay transport (record_dir, replay_dir)
// under the Events API clients of every stream.
type apiTraffic struct {
	cfg      config.Config
	base     *http.Client
	recorder *recording.Recorder
	log      *logp.Logger
}

// newAPITraffic checks record_dir or replay_dir and says in the log what
// the beat will do with the Events API.
func newAPITraffic(cfg config.Config, base *http.Client, log *logp.Logger) (*apiTraffic, error) {
	// Absolute, so that log lines and errors say exactly where.
	for _, dir := range []*string{&cfg.RecordDir, &cfg.ReplayDir, &cfg.ReplayStateDir} {
		if *dir != "" {
			abs, err := filepath.Abs(*dir)
			if err != nil {
				return nil, fmt.Errorf("eventsapibeat: %s: %w", *dir, err)
			}
			*dir = abs
		}
	}
	a := &apiTraffic{cfg: cfg, base: base, log: log}
	switch {
	case cfg.RecordDir != "":
		rec, err := recording.NewRecorder(cfg.RecordDir, log)
		if err != nil {
			return nil, fmt.Errorf("eventsapibeat.record_dir: %s: %w", cfg.RecordDir, err)
		}
		a.recorder = rec
		log.Warnf("recording every Events API request and response to %s; tokens are removed, but the files hold the account's events: keep them private and delete them when done", cfg.RecordDir)
	case cfg.Replaying():
		info, err := os.Stat(cfg.ReplayDir)
		if err != nil {
			return nil, fmt.Errorf("eventsapibeat.replay_dir: %w", err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("eventsapibeat.replay_dir: %s is not a directory", cfg.ReplayDir)
		}
		log.Warnf("replay mode: every Events API request is answered from the recording in %s, none goes to the network, and auth_token is ignored; documents still go to the configured output, cursors to <stream>.replay.state files in %s, never to cursor_state_file", cfg.ReplayDir, replayStateDir(cfg))
	}
	return a, nil
}

// replayStateDir is the directory of the replay's state files.
func replayStateDir(cfg config.Config) string {
	if cfg.ReplayStateDir != "" {
		return cfg.ReplayStateDir
	}
	return cfg.ReplayDir
}

// client returns the HTTP client of one stream's Events API client.
func (a *apiTraffic) client(streamKey string) (*http.Client, error) {
	switch {
	case a.recorder != nil:
		rt, err := a.recorder.Transport(streamKey, a.base.Transport)
		if err != nil {
			return nil, fmt.Errorf("eventsapibeat.record_dir: %w", err)
		}
		c := *a.base
		c.Transport = rt
		return &c, nil
	case a.cfg.Replaying():
		replay, err := recording.LoadStream(a.cfg.ReplayDir, streamKey, a.log)
		if err != nil {
			return nil, fmt.Errorf("eventsapibeat.replay_dir: %w", err)
		}
		a.log.Infof("stream %s: replaying %d recorded exchange(s) from %s", streamKey, replay.Exchanges(), replay.Dir())
		return &http.Client{Transport: replay, Timeout: a.base.Timeout}, nil
	default:
		return a.base, nil
	}
}
