//go:build linux

package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// binaryEnv names a built eventsapibeat for TestRunSmall to reuse instead
// of building one (a warm build takes 10-20 s, a cold one minutes).
const binaryEnv = "EVENTSAPIBEAT_BENCH_BINARY"

// TestRunSmall runs the whole bench against tiny volumes, with both outputs,
// and checks that the report's figures agree with each other.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the beat binary")
	}
	// A cold build on a busy machine can take most of the test's time: it
	// gets whatever the test binary's deadline leaves, the runs 5 minutes.
	buildCtx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		buildCtx, cancel = context.WithDeadline(buildCtx, deadline.Add(-5*time.Second))
		defer cancel()
	}
	bin := os.Getenv(binaryEnv)
	if bin == "" {
		var err error
		if bin, err = buildBinary(buildCtx, t.TempDir(), testWriter{t}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const perStream = 2000
	for _, output := range []string{"file", "discard"} {
		t.Run(output, func(t *testing.T) {
			rep, err := Run(ctx, Options{
				Binary: bin,
				Events: map[string]int{
					simulator.SignInAttempts: perStream,
					simulator.ItemUsages:     perStream,
					simulator.AuditEvents:    perStream,
				},
				Output:   output,
				Timeout:  2 * time.Minute,
				Progress: testWriter{t},
			})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			rep.WriteText(&text)
			t.Log("\n" + text.String())
			checkReport(t, rep, 3*perStream, output)
		})
	}
}

func checkReport(t *testing.T, rep *Report, total int, output string) {
	t.Helper()
	if rep.EventsTotal != total {
		t.Errorf("EventsTotal %d, want %d", rep.EventsTotal, total)
	}
	if n := rep.EventsPerStream[simulator.ItemUsages]; n != total/3 {
		t.Errorf("EventsPerStream[itemusages] %d, want %d", n, total/3)
	}
	if int(rep.OutputEventsAcked) != total {
		t.Errorf("libbeat output acked %d, want %d", rep.OutputEventsAcked, total)
	}
	if output == "file" && rep.DocsInOutput != total {
		t.Errorf("%d documents in the file output, want %d", rep.DocsInOutput, total)
	}
	if len(rep.Notes) > 0 {
		t.Errorf("notes: %q", rep.Notes)
	}
	if rep.Binary.Bytes <= 0 || math.Abs(rep.Binary.MiB-float64(rep.Binary.Bytes)/(1<<20)) > 1e-6 {
		t.Errorf("binary size %d B / %f MiB", rep.Binary.Bytes, rep.Binary.MiB)
	}

	// Time and throughput.
	if !(rep.StartupSeconds > 0 && rep.StartupSeconds <= rep.FirstAckSeconds && rep.FirstAckSeconds <= rep.WallSeconds) {
		t.Errorf("startup %.3f, first ACK %.3f, wall %.3f: not in order", rep.StartupSeconds, rep.FirstAckSeconds, rep.WallSeconds)
	}
	if got := rep.EventsPerSecond * rep.WallSeconds; math.Abs(got-float64(total)) > 1 {
		t.Errorf("events/s × wall = %.1f, want %d", got, total)
	}
	if rep.EventsPerSecondAfterStartup < rep.EventsPerSecond {
		t.Errorf("events/s after startup %.1f < overall %.1f", rep.EventsPerSecondAfterStartup, rep.EventsPerSecond)
	}

	// CPU.
	c := rep.CPU
	if c.BeatSeconds <= 0 || c.BeatUserSeconds <= 0 {
		t.Errorf("beat CPU %.3f s (user %.3f)", c.BeatSeconds, c.BeatUserSeconds)
	}
	if math.Abs(c.BeatUserSeconds+c.BeatSysSeconds-c.BeatSeconds) > 1e-9 {
		t.Errorf("user %.3f + sys %.3f != %.3f", c.BeatUserSeconds, c.BeatSysSeconds, c.BeatSeconds)
	}
	if got := c.MicrosPerEvent * float64(total) / 1e6; math.Abs(got-c.BeatSeconds) > 0.001 {
		t.Errorf("µs/event × events = %.4f s, beat CPU %.4f s", got, c.BeatSeconds)
	}
	if c.BeatStartupSeconds > c.BeatSeconds || c.MicrosPerEventAfterStartup > c.MicrosPerEvent {
		t.Errorf("startup CPU %.3f of %.3f, µs/event %.1f / after startup %.1f", c.BeatStartupSeconds, c.BeatSeconds, c.MicrosPerEvent, c.MicrosPerEventAfterStartup)
	}
	if c.BeatTotalAtExitSeconds+0.011 < c.BeatSeconds { // rusage vs /proc ticks
		t.Errorf("CPU at exit %.3f s < at last ACK %.3f s", c.BeatTotalAtExitSeconds, c.BeatSeconds)
	}
	if c.SimulatorSeconds < 0 {
		t.Errorf("simulator CPU %.3f s", c.SimulatorSeconds)
	}

	// Memory.
	m := rep.Memory
	if m.PeakRSSMiB <= 0 || m.SampledMaxMiB <= 0 || len(m.Series) == 0 {
		t.Errorf("peak RSS %.1f MiB, sampled max %.1f MiB, %d samples", m.PeakRSSMiB, m.SampledMaxMiB, len(m.Series))
	}
	if m.PeakRSSMiB < m.SampledMaxMiB || m.PeakRSSMiB < m.VmHWMMiB || m.VmHWMMiB <= 0 {
		t.Errorf("peak RSS %.1f MiB below a sampled RSS of %.1f MiB or VmHWM %.1f MiB", m.PeakRSSMiB, m.SampledMaxMiB, m.VmHWMMiB)
	}
	if !(m.SecondHalfMinMiB > 0 && m.SecondHalfMinMiB <= m.SecondHalfMaxMiB && m.SecondHalfMaxMiB <= m.SampledMaxMiB) {
		t.Errorf("second half %.1f..%.1f MiB, sampled max %.1f MiB", m.SecondHalfMinMiB, m.SecondHalfMaxMiB, m.SampledMaxMiB)
	}

	// Requests.
	r := rep.Requests
	if r.MinimumForEvents != 6 || r.Events < r.MinimumForEvents || r.Total < r.Events {
		t.Errorf("requests: total %d, events %d, minimum %d", r.Total, r.Events, r.MinimumForEvents)
	}
	if r.Peak60s != r.Events {
		t.Errorf("busiest 60 s holds %d requests, want all %d (the run is shorter than a minute)", r.Peak60s, r.Events)
	}
	if got := r.PerMinute * rep.WallSeconds / 60; math.Abs(got-float64(r.Total)) > 0.01 {
		t.Errorf("per minute × wall = %.2f, want %d", got, r.Total)
	}
	if math.Abs(r.HourBudgetFraction-r.PerMinute/500) > 1e-9 || math.Abs(r.MinuteBudgetFraction-r.PerMinute/600) > 1e-9 || r.Binding != "per-hour" {
		t.Errorf("budget fractions %.4f/min %.4f/h, binding %s", r.MinuteBudgetFraction, r.HourBudgetFraction, r.Binding)
	}
	if r.RateLimited429 != 0 || r.BeatRateLimited != 0 || r.BeatRequestErrors != 0 {
		t.Errorf("429s %d (beat %d), request errors %d", r.RateLimited429, r.BeatRateLimited, r.BeatRequestErrors)
	}
	if r.ByStatus["200"] != r.Total {
		t.Errorf("statuses %v, want all %d 200", r.ByStatus, r.Total)
	}

	if rep.Shutdown.ExitCode != 0 || rep.Shutdown.Killed || rep.Shutdown.Error != "" {
		t.Errorf("shutdown: %+v", rep.Shutdown)
	}
}

// TestRunBeatExits checks that a beat that dies is reported, with its
// output, instead of being waited for.
func TestRunBeatExits(t *testing.T) {
	script := filepath.Join(t.TempDir(), "fakebeat")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho 'config error: nothing to see' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), Options{
		Binary:  script,
		Events:  map[string]int{simulator.AuditEvents: 10},
		Timeout: 30 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "exited before acknowledging") || !strings.Contains(err.Error(), "nothing to see") {
		t.Fatalf("err = %v", err)
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses; utime 1234, stime 56.
	line := "4242 (my (odd) beat) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 12 0 1000 2000000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	u, s, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if u != 12340*time.Millisecond || s != 560*time.Millisecond {
		t.Fatalf("user %s sys %s, want 12.34s 560ms", u, s)
	}
	if _, _, err := parseStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short line accepted")
	}
	// This process, for real.
	if _, _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestParseStatus(t *testing.T) {
	m, err := parseStatus([]byte("Name:\tbeat\nVmPeak:\t  999 kB\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads:\t7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 1<<20 || m.HWM != 2<<20 {
		t.Fatalf("%+v", m)
	}
	if _, err := parseStatus([]byte("Name:\tzombie\nState:\tZ (zombie)\n")); err == nil {
		t.Fatal("status without Vm lines accepted")
	}
	if m, err := procMem(os.Getpid()); err != nil || m.RSS <= 0 || m.HWM < m.RSS {
		t.Fatalf("this process: %+v, %v", m, err)
	}
}

func TestPeakWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var times []time.Time
	for _, s := range []float64{-5, 0, 10, 20, 59.9, 60, 61, 130} { // seconds after t0
		times = append(times, t0.Add(time.Duration(s*float64(time.Second))))
	}
	var r Requests
	r.fill(simulator.Stats{Requests: 8, ByPath: map[string]int{"/api/v2/itemusages": 7, "/api/v2/auth/introspect": 1}, ByStatus: map[int]int{200: 8}}, times, t0, 2*time.Minute)
	// [0, 60) holds 0, 10, 20, 59.9; [10, 70) holds 10, 20, 59.9, 60, 61.
	if r.Peak60s != 5 || r.Events != 7 || r.PerMinute != 4 || r.Binding != "per-hour" {
		t.Fatalf("%+v", r)
	}
	// (61, 121] holds nothing.
	if r.Quietest60s != 0 {
		t.Fatalf("quietest 60 s holds %d requests, want 0", r.Quietest60s)
	}
}

func TestQuietestWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	every := func(step time.Duration, n int) []time.Time {
		var out []time.Time
		for i := range n {
			out = append(out, t0.Add(time.Duration(i)*step))
		}
		return out
	}
	burst := every(50*time.Millisecond, 580) // 580 in 29 s
	for i := range 580 {                     // then the same pattern 60 s later, as a sliding budget allows
		burst = append(burst, t0.Add(60*time.Second+time.Duration(i)*50*time.Millisecond))
	}
	for _, tc := range []struct {
		name  string
		times []time.Time
		want  int
	}{
		{"steady 10/s", every(100*time.Millisecond, 1500), 600},
		{"shorter than a minute", every(time.Second, 30), -1},
		{"burst, pause, burst", burst, 580},
		{"nothing", nil, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quietestWindow(tc.times, t0, time.Minute); got != tc.want {
				t.Fatalf("quietest window holds %d, want %d", got, tc.want)
			}
		})
	}
}

func TestConfigYAML(t *testing.T) {
	streams := []streamDef{streamDefs[1]}
	y := configYAML("http://127.0.0.1:1", "/w", "/w/out", "discard", streams, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 1000)
	for _, want := range []string{
		"  signin_attempts:\n    enabled: false\n",
		"  item_usages:\n    enabled: true\n    auth_token: \"${BENCH_ITEM_USAGES_TOKEN}\"\n",
		`starting_cursor: "{\"limit\": 1000, \"start_time\": \"2026-01-02T03:04:05Z\"}"`,
		"output.discard:\n  enabled: true\n",
		"logging.level: warning\n",
	} {
		if !strings.Contains(y, want) {
			t.Errorf("config lacks %q:\n%s", want, y)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{
		{Events: map[string]int{}},
		{Events: map[string]int{"itemusages": -1, "auditevents": 5}},
		{Events: map[string]int{"bogus": 5}},
		{Events: map[string]int{"itemusages": 5}, Output: "elasticsearch"},
		{Events: map[string]int{"itemusages": 5}, Span: 120 * 24 * time.Hour},
	} {
		o.defaults()
		if err := o.validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
