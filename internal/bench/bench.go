//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// streamDef ties a simulator event type to the beat's configuration key.
type streamDef struct {
	Type string // simulator / API name: "signinattempts"
	Key  string // eventsapibeat.<key>: "signin_attempts"
	Env  string // environment variable holding the token
}

var streamDefs = []streamDef{
	{simulator.SignInAttempts, "signin_attempts", "BENCH_SIGNIN_ATTEMPTS_TOKEN"},
	{simulator.ItemUsages, "item_usages", "BENCH_ITEM_USAGES_TOKEN"},
	{simulator.AuditEvents, "audit_events", "BENCH_AUDIT_EVENTS_TOKEN"},
}

// Documented Events API limits, against which the budget use is reported.
const (
	apiPerMinute = 600
	apiPerHour   = 30000
)

// defaultPageLimit is the page size the beat is configured to ask for by
// default (the API's maximum).
const defaultPageLimit = 1000

// Options configure one benchmark run.
type Options struct {
	// Binary is an eventsapibeat executable; empty builds one into the run's
	// temporary directory.
	Binary string
	// Events is the number of events per simulator event type; a type with
	// 0 events is not enabled in the beat.
	Events map[string]int
	// Span spreads the events' timestamps over [now-Span, now].
	Span time.Duration
	// Latency is added by the simulator to every response.
	Latency time.Duration
	// Unlimited disables the simulator's rate limits and the beat's budget.
	Unlimited bool
	// Output is "file" or "discard".
	Output string
	// PageLimit is the starting_cursor limit (events per page); 0 means
	// 1000. Smaller pages cost the beat less CPU per request, which shows
	// how much of the request budget the fetching alone can use.
	PageLimit int
	// Seed makes the simulated events deterministic.
	Seed int64
	// Timeout bounds the whole run.
	Timeout time.Duration
	// Sample is the RSS and /stats polling period.
	Sample time.Duration
	// KeepDir keeps the temporary directory (config, output, state, log).
	KeepDir bool
	// BeatArgs are appended to the beat's command line (for example
	// --cpuprofile FILE, or -E queue.mem.events=8192).
	BeatArgs []string
	// Progress receives build output and a progress line every few
	// seconds; nil is silent.
	Progress io.Writer
}

func (o *Options) defaults() {
	if o.Span == 0 {
		o.Span = 30 * 24 * time.Hour
	}
	if o.Output == "" {
		o.Output = "file"
	}
	if o.PageLimit == 0 {
		o.PageLimit = defaultPageLimit
	}
	if o.Timeout == 0 {
		o.Timeout = time.Hour
	}
	if o.Sample == 0 {
		o.Sample = 100 * time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
}

func (o *Options) validate() error {
	switch o.Output {
	case "file", "discard":
	default:
		return fmt.Errorf("-output must be file or discard, not %q", o.Output)
	}
	total := 0
	for _, d := range streamDefs {
		n := o.Events[d.Type]
		if n < 0 {
			return fmt.Errorf("-%s must not be negative", d.Type)
		}
		total += n
	}
	for t := range o.Events {
		if !knownType(t) {
			return fmt.Errorf("unknown event type %q", t)
		}
	}
	if total == 0 {
		return errors.New("no events: at least one of -signinattempts, -itemusages, -auditevents must be > 0")
	}
	// The API serves only the last 120 days; keep a day of margin so
	// every generated event is served.
	if o.Span <= 0 || o.Span > simulator.DataWindow-24*time.Hour {
		return fmt.Errorf("-span must be between 1ns and %s (the API's 120-day window less a day)", simulator.DataWindow-24*time.Hour)
	}
	if o.Latency < 0 {
		return errors.New("-latency must not be negative")
	}
	if o.PageLimit < 1 || o.PageLimit > 1000 {
		return errors.New("-limit must be from 1 to 1000")
	}
	if o.Sample <= 0 {
		return errors.New("sample period must be positive")
	}
	return nil
}

func knownType(t string) bool {
	for _, d := range streamDefs {
		if d.Type == t {
			return true
		}
	}
	return false
}

// Run builds (or takes) the binary, starts the simulator, runs the beat
// until every event is acknowledged and every cursor committed, stops it
// with SIGTERM and returns the measurements.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if runtime.GOOS != "linux" {
		return nil, errors.New("the bench reads /proc and runs on Linux only")
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	work, err := os.MkdirTemp("", "eventsapibeat-bench-")
	if err != nil {
		return nil, err
	}
	if opts.KeepDir {
		fmt.Fprintf(opts.Progress, "bench: keeping %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}

	rep := &Report{Machine: machine(), Output: opts.Output, Seed: opts.Seed,
		Span: opts.Span.String(), Latency: opts.Latency.String(), Unlimited: opts.Unlimited, PageLimit: opts.PageLimit,
		EventsPerStream: map[string]int{}}
	if opts.KeepDir {
		rep.WorkDir = work
	}

	// The binary.
	bin := opts.Binary
	if bin == "" {
		start := time.Now()
		if bin, err = buildBinary(ctx, work, opts.Progress); err != nil {
			return nil, err
		}
		rep.Binary.Built = true
		rep.Binary.BuildSeconds = time.Since(start).Seconds()
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	rep.Binary.Path, rep.Binary.Bytes, rep.Binary.MiB = bin, fi.Size(), mib(fi.Size())

	// The simulator.
	streams := make([]streamDef, 0, len(streamDefs))
	counts := map[string]int{}
	for _, d := range streamDefs {
		if n := opts.Events[d.Type]; n > 0 {
			streams = append(streams, d)
			counts[d.Type] = n
			rep.EventsPerStream[d.Type] = n
			rep.EventsTotal += n
		}
	}
	simCfg := simulator.Config{Seed: opts.Seed, Events: counts, Span: opts.Span, Latency: opts.Latency}
	if opts.Unlimited {
		simCfg.RateLimitPerMinute, simCfg.RateLimitPerHour = -1, -1
	}
	fmt.Fprintf(opts.Progress, "bench: generating %d events\n", rep.EventsTotal)
	sim, err := simulator.New(simCfg)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	baseURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lastTime, err := lastEventTimes(sim, streams, counts)
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	for _, d := range streams {
		tok, err := sim.IssueToken(simulator.TokenOptions{Features: []string{d.Type}})
		if err != nil {
			return nil, err
		}
		env = append(env, d.Env+"="+tok)
	}

	// The configuration.
	outDir := filepath.Join(work, "out")
	cfgPath := filepath.Join(work, "eventsapibeat.yml")
	startTime := time.Now().Add(-opts.Span - time.Hour).UTC()
	if err := os.WriteFile(cfgPath, []byte(configYAML(baseURL, work, outDir, opts.Output, streams, startTime, opts.PageLimit)), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-c", cfgPath, "-e", "--path.home", work,
		"-E", "http.enabled=true", "-E", "http.host=127.0.0.1", "-E", "http.port=" + strconv.Itoa(port)}
	if opts.Unlimited {
		args = append(args, "-E", "eventsapibeat.rate_limit.per_minute=-1", "-E", "eventsapibeat.rate_limit.per_hour=-1")
	}
	args = append(args, opts.BeatArgs...)
	rep.Command = append([]string{filepath.Base(bin)}, args...)

	// Leave the simulator's generation garbage out of the measurement.
	runtime.GC()
	debug.FreeOSMemory()

	logTail := &tailBuffer{max: 64 << 10}
	logFile, err := os.Create(filepath.Join(work, "beat.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = work
	cmd.Env = env
	cmd.Stdout = io.MultiWriter(logTail, logFile)
	cmd.Stderr = cmd.Stdout

	self0 := selfCPU()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	// exited is closed once the beat has exited; waitErr is then its
	// status.
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Kill() // harmless once it has exited
		<-exited
	}()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s\nbeat log tail:\n%s", fmt.Sprintf(format, args...), logTail.Tail(25))
	}

	// Sample RSS until the beat is told to stop.
	sampler := newRSSSampler(pid, t0, opts.Sample)
	go sampler.run()
	defer sampler.stop()

	// Poll /stats until every event is acknowledged.
	statsURL := fmt.Sprintf("http://127.0.0.1:%d/stats", port)
	hc := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(opts.Sample)
	defer tick.Stop()
	var (
		ready, firstAck   time.Duration
		readyCPU          time.Duration
		lastProgress      = t0
		done              bool
		acked             map[string]uint64
		stats             map[string]any
		lastAckCPU        [2]time.Duration
		lastAckAt         time.Time
		simStatsAtLastAck simulator.Stats
		reqTimes          []time.Time
		selfAtLastAck     time.Duration
	)
	for !done {
		select {
		case <-ctx.Done():
			return nil, fail("timed out after %s waiting for the beat to acknowledge every event (acked %v of %v)", time.Since(t0).Round(time.Second), acked, counts)
		case <-exited:
			return nil, fail("the beat exited before acknowledging every event: %v", waitErr)
		case <-tick.C:
		}
		stats, err = getStats(hc, statsURL)
		if err != nil {
			continue // not listening yet
		}
		now := time.Now()
		if ready == 0 {
			ready = now.Sub(t0)
			u, s, _ := procCPU(pid)
			readyCPU = u + s
		}
		acked = map[string]uint64{}
		all, some := true, false
		for _, d := range streams {
			n := statUint(stats, "eventsapibeat", d.Key, "events", "acked")
			acked[d.Type] = n
			some = some || n > 0
			all = all && n >= uint64(counts[d.Type])
		}
		if some && firstAck == 0 {
			firstAck = now.Sub(t0)
		}
		if all {
			// Take the figures now, before anything else runs.
			u, s, err := procCPU(pid)
			if err != nil {
				return nil, fail("reading the beat's CPU time: %v", err)
			}
			lastAckCPU = [2]time.Duration{u, s}
			selfAtLastAck = selfCPU()
			lastAckAt = now
			simStatsAtLastAck = sim.Stats()
			reqTimes = sim.RequestTimes()
			done = true
		}
		if now.Sub(lastProgress) >= 5*time.Second {
			lastProgress = now
			fmt.Fprintf(opts.Progress, "bench: %5.1fs acked %s, RSS %.1f MiB\n", now.Sub(t0).Seconds(), fmtCounts(acked, streams), mib(sampler.last()))
		}
	}

	// Not measured any more: check that the cursors and the output are
	// complete.
	committedAt, err := waitForCursors(ctx, exited, &waitErr, work, streams, lastTime)
	if err != nil {
		return nil, fail("%v", err)
	}
	rep.CursorCommitLagSeconds = committedAt.Sub(lastAckAt).Seconds()
	if opts.Output == "file" {
		n, err := waitForDocs(ctx, outDir, rep.EventsTotal)
		rep.DocsInOutput = n
		if err != nil {
			return nil, fail("%v", err)
		}
	}
	final, _ := getStats(hc, statsURL)
	mem, memErr := procMem(pid)

	// Stop as systemd would.
	sampler.stop()
	stopAt := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		rep.Shutdown.Killed = true
	}
	rep.Shutdown.Seconds = time.Since(stopAt).Seconds()
	if cmd.ProcessState != nil {
		rep.Shutdown.ExitCode = cmd.ProcessState.ExitCode()
		rep.CPU.BeatTotalAtExitSeconds = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	}
	if waitErr != nil && !rep.Shutdown.Killed {
		rep.Shutdown.Error = waitErr.Error()
	}
	if waitErr != nil || rep.Shutdown.Killed {
		rep.Notes = append(rep.Notes, "the beat did not exit cleanly on SIGTERM; log tail:\n"+logTail.Tail(15))
	}

	// Figures.
	wall := lastAckAt.Sub(t0)
	rep.WallSeconds = wall.Seconds()
	rep.StartupSeconds = ready.Seconds()
	rep.FirstAckSeconds = firstAck.Seconds()
	rep.EventsPerSecond = float64(rep.EventsTotal) / wall.Seconds()
	if d := wall - ready; d > 0 {
		rep.EventsPerSecondAfterStartup = float64(rep.EventsTotal) / d.Seconds()
	}
	for _, d := range streams {
		if acked[d.Type] != uint64(counts[d.Type]) {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: %d events acknowledged, %d generated (re-sent events?)", d.Type, acked[d.Type], counts[d.Type]))
		}
		if served := simStatsAtLastAck.ItemsServed[d.Type]; served != counts[d.Type] {
			why := "pages fetched twice?"
			if served > counts[d.Type] && acked[d.Type] == uint64(counts[d.Type]) {
				why = "a parallel backfill reads the minute before its handover point, and events on slice boundaries, twice; the beat publishes them once"
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the simulator served %d events, %d generated (%s)", d.Type, served, counts[d.Type], why))
		}
	}

	rep.CPU.BeatUserSeconds = lastAckCPU[0].Seconds()
	rep.CPU.BeatSysSeconds = lastAckCPU[1].Seconds()
	beatCPU := lastAckCPU[0] + lastAckCPU[1]
	rep.CPU.BeatSeconds = beatCPU.Seconds()
	rep.CPU.BeatStartupSeconds = readyCPU.Seconds()
	rep.CPU.MicrosPerEvent = float64(beatCPU.Microseconds()) / float64(rep.EventsTotal)
	rep.CPU.MicrosPerEventAfterStartup = float64((beatCPU - readyCPU).Microseconds()) / float64(rep.EventsTotal)
	rep.CPU.BeatCores = beatCPU.Seconds() / wall.Seconds()
	simCPU := selfAtLastAck - self0
	rep.CPU.SimulatorSeconds = simCPU.Seconds()
	rep.CPU.SimulatorMicrosPerEvent = float64(simCPU.Microseconds()) / float64(rep.EventsTotal)

	samples := sampler.samples()
	rep.Memory.fill(samples, wall)
	// VmHWM is only brought up to date when the kernel unmaps pages, and
	// the Go runtime returns memory with madvise, so a sample can exceed it.
	rep.Memory.PeakRSSMiB = rep.Memory.SampledMaxMiB
	if memErr == nil {
		rep.Memory.VmHWMMiB = round(mib(mem.HWM), 1)
		rep.Memory.FinalRSSMiB = round(mib(mem.RSS), 1)
		rep.Memory.PeakRSSMiB = max(rep.Memory.PeakRSSMiB, rep.Memory.VmHWMMiB)
	}

	rep.Requests.fill(simStatsAtLastAck, reqTimes, t0, wall)
	if final != nil {
		for _, d := range streams {
			rep.Requests.BeatRateLimited += statUint(final, "eventsapibeat", d.Key, "requests", "rate_limited")
			rep.Requests.BeatRequestErrors += statUint(final, "eventsapibeat", d.Key, "requests", "errors")
		}
		rep.OutputEventsAcked = statUint(final, "libbeat", "output", "events", "acked")
	}
	rep.Requests.MinimumForEvents = minRequests(counts, opts.PageLimit)
	rep.LogLines, rep.LogWarnings = logTail.Counts()
	return rep, nil
}

// buildBinary builds eventsapibeat the way releases are built.
func buildBinary(ctx context.Context, dir string, progress io.Writer) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run the bench inside the eventsapibeat module (or pass -binary)")
	}
	bin := filepath.Join(dir, "eventsapibeat")
	fmt.Fprintf(progress, "bench: building %s (CGO_ENABLED=0 -trimpath -ldflags \"-s -w\")\n", bin)
	var last error
	for attempt := 0; attempt < 2; attempt++ { // a concurrent build can race on the build cache
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
		cmd.Dir = filepath.Dir(gomod)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = progress, io.MultiWriter(progress, &stderr)
		if last = cmd.Run(); last == nil {
			return bin, nil
		}
		last = fmt.Errorf("go build: %w: %s", last, strings.TrimSpace(stderr.String()))
	}
	return "", last
}

// lastEventTimes returns the timestamp of each stream's final event, which
// its committed cursor must record at the end.
func lastEventTimes(sim *simulator.Server, streams []streamDef, counts map[string]int) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for _, d := range streams {
		evs := sim.Events(d.Type)
		if len(evs) != counts[d.Type] {
			return nil, fmt.Errorf("simulator has %d %s events, want %d", len(evs), d.Type, counts[d.Type])
		}
		var ev struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if err := json.Unmarshal(evs[len(evs)-1].JSON, &ev); err != nil {
			return nil, fmt.Errorf("decoding the last %s event: %w", d.Type, err)
		}
		out[d.Type] = ev.Timestamp
	}
	return out, nil
}

func statePath(work string, d streamDef) string {
	return filepath.Join(work, d.Type+".state")
}

// configYAML is the beat's configuration: the requested streams, the
// simulator as the API, and the chosen output.
func configYAML(baseURL, work, outDir, output string, streams []streamDef, start time.Time, pageLimit int) string {
	var b strings.Builder
	q := strconv.Quote
	b.WriteString("# Written by internal/bench.\neventsapibeat:\n")
	fmt.Fprintf(&b, "  url: %s\n", q(baseURL))
	cursor := fmt.Sprintf(`{"limit": %d, "start_time": %q}`, pageLimit, start.Format(time.RFC3339))
	for _, d := range streamDefs {
		enabled := false
		for _, s := range streams {
			enabled = enabled || s.Type == d.Type
		}
		fmt.Fprintf(&b, "  %s:\n    enabled: %t\n", d.Key, enabled)
		if !enabled {
			continue
		}
		fmt.Fprintf(&b, "    auth_token: %s\n", q("${"+d.Env+"}"))
		fmt.Fprintf(&b, "    cursor_state_file: %s\n", q(statePath(work, d)))
		fmt.Fprintf(&b, "    starting_cursor: %s\n", q(cursor))
	}
	switch output {
	case "file":
		// Never rotate: every document stays countable.
		fmt.Fprintf(&b, "output.file:\n  path: %s\n  filename: events\n  rotate_every_kb: %d\n  rotate_on_startup: false\n", q(outDir), 64<<20)
	case "discard":
		b.WriteString("output.discard:\n  enabled: true\n")
	}
	b.WriteString("logging.level: warning\n")
	return b.String()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// getStats fetches the beat's /stats document.
func getStats(hc *http.Client, url string) (map[string]any, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/stats: %s", resp.Status)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// statUint reads a counter from a /stats document; 0 when absent.
func statUint(m map[string]any, path ...string) uint64 {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return 0
		}
		v = mm[p]
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		return 0
	}
	return u
}

// waitForCursors waits until every stream's state file records the time of
// its final event, and returns when that was first seen.
func waitForCursors(ctx context.Context, exited <-chan struct{}, waitErr *error, work string, streams []streamDef, last map[string]time.Time) (time.Time, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		pending := ""
		for _, d := range streams {
			st, err := state.Load(statePath(work, d))
			if err != nil {
				pending = fmt.Sprintf("%s: %v", d.Type, err)
				break
			}
			if !st.LastEventTime.Equal(last[d.Type]) {
				pending = fmt.Sprintf("%s: state records last event %s, final event is %s", d.Type, st.LastEventTime.Format(time.RFC3339Nano), last[d.Type].Format(time.RFC3339Nano))
				break
			}
		}
		if pending == "" {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("cursor not committed 60s after the last ACK: %s", pending)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("timed out waiting for the cursors: %s", pending)
		case <-exited:
			return time.Time{}, fmt.Errorf("the beat exited (%v) before committing its cursors: %s", *waitErr, pending)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitForDocs waits until the file output holds want documents.
func waitForDocs(ctx context.Context, dir string, want int) (int, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := countDocs(dir)
		if err == nil && n == want {
			return n, nil
		}
		if n > want {
			return n, fmt.Errorf("the file output holds %d documents, more than the %d events", n, want)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return n, fmt.Errorf("the file output holds %d documents, want %d (err %v)", n, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countDocs counts the complete lines (one document each) in the file
// output's files.
func countDocs(dir string) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "events*.ndjson"))
	if err != nil {
		return 0, err
	}
	n := 0
	buf := make([]byte, 1<<20)
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return n, err
		}
		for {
			m, err := fh.Read(buf)
			n += bytes.Count(buf[:m], []byte{'\n'})
			if err == io.EOF {
				break
			}
			if err != nil {
				fh.Close()
				return n, err
			}
		}
		fh.Close()
	}
	return n, nil
}

// minRequests is the fewest event requests that can serve counts with full
// pages of pageLimit events.
func minRequests(counts map[string]int, pageLimit int) int {
	n := 0
	for _, c := range counts {
		n += (c + pageLimit - 1) / pageLimit
	}
	return n
}

func fmtCounts(m map[string]uint64, streams []streamDef) string {
	parts := make([]string, 0, len(streams))
	for _, d := range streams {
		parts = append(parts, fmt.Sprintf("%s=%d", d.Type, m[d.Type]))
	}
	return strings.Join(parts, " ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// rssSample is one reading of the beat's resident set size.
type rssSample struct {
	At  time.Duration // since the beat was started
	RSS int64
}

// rssSampler reads /proc/<pid>/status periodically.
type rssSampler struct {
	pid    int
	t0     time.Time
	every  time.Duration
	mu     sync.Mutex
	list   []rssSample
	stopCh chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newRSSSampler(pid int, t0 time.Time, every time.Duration) *rssSampler {
	return &rssSampler{pid: pid, t0: t0, every: every, stopCh: make(chan struct{}), done: make(chan struct{})}
}

func (r *rssSampler) run() {
	defer close(r.done)
	t := time.NewTicker(r.every)
	defer t.Stop()
	for {
		if m, err := procMem(r.pid); err == nil {
			r.mu.Lock()
			r.list = append(r.list, rssSample{At: time.Since(r.t0), RSS: m.RSS})
			r.mu.Unlock()
		}
		select {
		case <-r.stopCh:
			return
		case <-t.C:
		}
	}
}

// stop ends sampling and waits for the sampler; it is idempotent.
func (r *rssSampler) stop() {
	r.once.Do(func() { close(r.stopCh) })
	<-r.done
}

func (r *rssSampler) samples() []rssSample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rssSample(nil), r.list...)
}

func (r *rssSampler) last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		return 0
	}
	return r.list[len(r.list)-1].RSS
}

// tailBuffer keeps the last max bytes written and counts lines.
type tailBuffer struct {
	mu       sync.Mutex
	max      int
	buf      []byte
	lines    int
	warnings int
	partial  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	data := append(t.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		line := data[:i]
		t.lines++
		if bytes.Contains(line, []byte(`"warn"`)) || bytes.Contains(line, []byte(`"error"`)) ||
			bytes.Contains(line, []byte("\tWARN\t")) || bytes.Contains(line, []byte("\tERROR\t")) {
			t.warnings++
		}
		data = data[i+1:]
	}
	if len(data) > 4096 {
		data = data[len(data)-4096:]
	}
	t.partial = append([]byte(nil), data...)
	return len(p), nil
}

// Tail returns the last n lines.
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Counts returns the number of log lines and of warning/error lines.
func (t *tailBuffer) Counts() (lines, warnings int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lines, t.warnings
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}
