package cmd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/elastic/beats/v7/libbeat/cmd/instance"
	"github.com/elastic/beats/v7/libbeat/cmd/instance/locks"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/module"
)

// beatSetup is the configuration as `run` reads it (-c, -E, --path.*, the
// keystore), for the beat's own commands.
type beatSetup struct {
	beat  *instance.Beat
	cfg   config.Config
	types []module.Type // index for index with cfg.Streams
}

func loadSetup(settings instance.Settings) (*beatSetup, error) {
	b, err := instance.NewInitializedBeat(settings)
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	raw, err := b.BeatConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	cfg, types, err := beater.LoadConfig(raw)
	if err != nil {
		return nil, err
	}
	return &beatSetup{beat: b, cfg: cfg, types: types}, nil
}

// streamRef is one stream section and its event type.
type streamRef struct {
	stream config.Stream
	typ    module.Type
}

// enabled returns the enabled streams.
func (s *beatSetup) enabled() []streamRef {
	var out []streamRef
	for i, st := range s.cfg.Streams {
		if st.Enabled {
			out = append(out, streamRef{st, s.types[i]})
		}
	}
	return out
}

// find looks a stream up by its section name (item_usages) or its event
// type (itemusages).
func (s *beatSetup) find(name string) (streamRef, error) {
	var names []string
	for i, st := range s.cfg.Streams {
		if name == st.Key || name == s.types[i].Name {
			return streamRef{st, s.types[i]}, nil
		}
		names = append(names, st.Key)
	}
	return streamRef{}, fmt.Errorf("no stream %q; the streams are %s", name, strings.Join(names, ", "))
}

// lockDataPath takes libbeat's lock of path.data, the one `run` holds while
// the beat runs, so that a state change cannot race a running beat (whose
// next commit would overwrite it). The returned function releases it.
func (s *beatSetup) lockDataPath() (func(), error) {
	lock := locks.NewWithRetry(s.beat.Info, s.beat.Paths, 1, 0)
	if err := lock.Lock(); err != nil {
		if errors.Is(err, locks.ErrAlreadyLocked) {
			return nil, fmt.Errorf("%s is running with data path %s; stop it first, or its next cursor commit would overwrite the change", s.beat.Info.Beat, s.beat.Paths.Data)
		}
		return nil, fmt.Errorf("locking data path %s: %w", s.beat.Paths.Data, err)
	}
	return func() { _ = lock.Unlock() }, nil
}
