package beater_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/idxmgmt"
	"github.com/elastic/beats/v7/libbeat/outputs"
	"github.com/elastic/beats/v7/libbeat/publisher/pipeline"
	"github.com/elastic/beats/v7/libbeat/publisher/processing"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/monitoring"

	// Registers libbeat's outputs (file, logstash, ...) and queues.
	_ "github.com/elastic/beats/v7/libbeat/publisher/includes"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// clock is a settable time source shared by the simulator and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// account is a simulated 1Password account and a token for every type.
type account struct {
	sim     *simulator.Server
	baseURL string
	token   string
	clock   *clock
}

func newAccount(t *testing.T, perType int, cfg simulator.Config) *account {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	cfg.Seed = 42
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.Events == nil {
		cfg.Events = map[string]int{}
		for _, typ := range all.Types() {
			cfg.Events[typ.Name] = perType
		}
	}
	if cfg.Span == 0 {
		cfg.Span = 72 * time.Hour
	}
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	features := []string{}
	for _, typ := range all.Types() {
		features = append(features, typ.Name)
	}
	token, err := sim.IssueToken(simulator.TokenOptions{Features: features})
	if err != nil {
		t.Fatal(err)
	}
	return &account{sim: sim, baseURL: base, token: token, clock: clk}
}

// beatConfig is the eventsapibeat: section for the account, every stream on,
// state files in dir.
func (a *account) beatConfig(dir string, extra map[string]any) map[string]any {
	section := map[string]any{"url": a.baseURL}
	for _, typ := range all.Types() {
		section[typ.ConfigKey] = map[string]any{
			"enabled":           true,
			"auth_token":        a.token,
			"sample_frequency":  "1s",
			"cursor_state_file": filepath.Join(dir, typ.Name+".state"),
			// Back to the start of the generated history.
			"starting_cursor": fmt.Sprintf(`{"limit": 1000, "start_time": %q}`, a.clock.Now().Add(-80*time.Hour).Format(time.RFC3339)),
		}
	}
	for k, v := range extra {
		section[k] = v
	}
	return section
}

// running is a beat running in-process on a real libbeat pipeline.
type running struct {
	bt   beat.Beater
	b    *beat.Beat
	pipe *pipeline.Pipeline
	reg  *monitoring.Registry
	// libbeatReg holds libbeat's own pipeline and output metrics
	// (pipeline.queue.*, output.events.*), as /stats shows them under libbeat.
	libbeatReg *monitoring.Registry
	done       chan error
	once       sync.Once
}

// startBeat runs beater.New's beat on a libbeat pipeline with the named
// output, as `eventsapibeat run` does.
func startBeat(t *testing.T, section map[string]any, outputType string, output map[string]any) *running {
	t.Helper()
	return startBeatWith(t, section, outputType, output, nil, beater.Options{})
}

// startBeatWithSetup is startBeat with root settings for libbeat's index
// management (setup.template.*, setup.ilm.*), which the elasticsearch
// output's index selector reads.
func startBeatWithSetup(t *testing.T, section map[string]any, outputType string, output, setup map[string]any) *running {
	t.Helper()
	return startBeatWith(t, section, outputType, output, setup, beater.Options{})
}

// startBeatWithOptions is startBeat with beater options.
func startBeatWithOptions(t *testing.T, section map[string]any, outputType string, output map[string]any, opts beater.Options) *running {
	t.Helper()
	return startBeatWith(t, section, outputType, output, nil, opts)
}

// startBeatWith is startBeat with index-management settings and beater
// options.
func startBeatWith(t *testing.T, section map[string]any, outputType string, output, setup map[string]any, opts beater.Options) *running {
	t.Helper()
	return startBeatWithLogger(t, logp.NewNopLogger(), section, outputType, output, setup, opts)
}

// startBeatLogged is startBeat with the beat's logger given.
func startBeatLogged(t *testing.T, logger *logp.Logger, section map[string]any, outputType string, output map[string]any) *running {
	t.Helper()
	return startBeatWithLogger(t, logger, section, outputType, output, nil, beater.Options{})
}

// startBeatWithLogger is startBeatWith with the beat's logger given.
func startBeatWithLogger(t *testing.T, logger *logp.Logger, section map[string]any, outputType string, output, setup map[string]any, opts beater.Options) *running {
	t.Helper()
	info := beat.Info{Beat: beater.Name, IndexPrefix: beater.Name, Version: beater.Version, Logger: logger}
	root := map[string]any{"output": map[string]any{outputType: output}}
	for k, v := range setup {
		root[k] = v
	}
	indexManagement, err := idxmgmt.DefaultSupport(info, conf.MustNewConfigFrom(root))
	if err != nil {
		t.Fatal(err)
	}
	procs, err := processing.MakeDefaultBeatSupport(true)(info, logger, conf.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	var queue conf.Namespace
	if err := conf.MustNewConfigFrom(map[string]any{"mem": map[string]any{"flush.timeout": "0s"}}).Unpack(&queue); err != nil {
		t.Fatal(err)
	}
	libbeatMetrics := monitoring.NewRegistry()
	pipe, err := pipeline.LoadWithSettings(info,
		pipeline.Monitors{Metrics: libbeatMetrics, Logger: logger},
		pipeline.Config{Queue: queue},
		func(stat outputs.Observer) (string, outputs.Group, error) {
			g, err := outputs.Load(indexManagement, info, stat, outputType, conf.MustNewConfigFrom(output))
			return outputType, g, err
		},
		pipeline.Settings{Processors: procs},
	)
	if err != nil {
		t.Fatal(err)
	}
	mon := beat.NewMonitoring()
	b := &beat.Beat{Info: info, Publisher: pipe, Monitoring: mon}
	bt, err := beater.NewWithOptions(b, conf.MustNewConfigFrom(section), opts)
	if err != nil {
		pipe.Close()
		t.Fatalf("beater.New: %v", err)
	}
	r := &running{bt: bt, b: b, pipe: pipe, reg: mon.StatsRegistry(), libbeatReg: libbeatMetrics, done: make(chan error, 1)}
	go func() { r.done <- bt.Run(b) }()
	t.Cleanup(r.stop)
	return r
}

// stop stops the beat the way libbeat does on SIGTERM (close the publisher
// the beat was given, then Stop) and waits for Run to return.
func (r *running) stop() {
	r.once.Do(func() {
		if c, ok := r.b.Publisher.(io.Closer); ok {
			c.Close()
		}
		r.bt.Stop()
		<-r.done
	})
}

// metric reads an eventsapibeat.<stream>.<name> counter.
func (r *running) metric(stream, name string) int64 {
	snap := monitoring.CollectFlatSnapshot(r.reg, monitoring.Full, true)
	key := "eventsapibeat." + stream + "." + name
	if v, ok := snap.Ints[key]; ok {
		return v
	}
	return -1
}

// libbeatMetric reads one of libbeat's pipeline or output counters, such as
// "output.events.duplicates" or "pipeline.queue.filled.events".
func (r *running) libbeatMetric(name string) int64 {
	snap := monitoring.CollectFlatSnapshot(r.libbeatReg, monitoring.Full, true)
	if v, ok := snap.Ints[name]; ok {
		return v
	}
	return -1
}

// doc is one published document as the file output wrote it.
type doc map[string]any

func (d doc) str(path string) string {
	var cur any = map[string]any(d)
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// readDocs reads every document the file output wrote under dir.
func readDocs(t *testing.T, dir string) []doc {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ndjson*"))
	sort.Strings(files)
	var docs []doc
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var d doc
			if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
				// The writer may be mid-line; the caller polls again.
				continue
			}
			docs = append(docs, d)
		}
		fh.Close()
	}
	return docs
}

// waitFor polls cond until it holds or the deadline passes. It observes
// state; it never stands in for an event it could wait on.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
