//go:build linux

package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// Report is the result of one run. Times are seconds, sizes MiB unless the
// name says otherwise.
type Report struct {
	Machine Machine `json:"machine"`
	Binary  struct {
		Path         string  `json:"path"`
		Bytes        int64   `json:"bytes"`
		MiB          float64 `json:"mib"`
		Built        bool    `json:"built"`
		BuildSeconds float64 `json:"build_seconds,omitempty"`
	} `json:"binary"`
	Command []string `json:"command"`
	WorkDir string   `json:"work_dir,omitempty"`

	// Workload.
	EventsTotal     int            `json:"events_total"`
	EventsPerStream map[string]int `json:"events_per_stream"`
	Span            string         `json:"span"`
	Latency         string         `json:"latency"`
	Unlimited       bool           `json:"unlimited"`
	PageLimit       int            `json:"page_limit"`
	Output          string         `json:"output"`
	Seed            int64          `json:"seed"`

	// Throughput: from exec of the beat to the /stats poll that saw every
	// event acknowledged (resolution: the sample period).
	WallSeconds                 float64 `json:"wall_seconds"`
	StartupSeconds              float64 `json:"startup_seconds"`   // exec → /stats answers
	FirstAckSeconds             float64 `json:"first_ack_seconds"` // exec → first event acknowledged
	EventsPerSecond             float64 `json:"events_per_second"`
	EventsPerSecondAfterStartup float64 `json:"events_per_second_after_startup"`

	CPU struct {
		// The beat's user+system CPU at the last ACK (from /proc), before
		// the shutdown.
		BeatSeconds                float64 `json:"beat_seconds"`
		BeatUserSeconds            float64 `json:"beat_user_seconds"`
		BeatSysSeconds             float64 `json:"beat_sys_seconds"`
		BeatStartupSeconds         float64 `json:"beat_startup_seconds"` // by the time /stats answered
		BeatCores                  float64 `json:"beat_cores"`           // BeatSeconds / wall
		MicrosPerEvent             float64 `json:"micros_per_event"`
		MicrosPerEventAfterStartup float64 `json:"micros_per_event_after_startup"`
		BeatTotalAtExitSeconds     float64 `json:"beat_total_at_exit_seconds"` // rusage, including shutdown
		// The bench process (the simulator serving, plus the bench's own
		// polling) over the same interval; not part of the beat's figures.
		SimulatorSeconds        float64 `json:"simulator_seconds"`
		SimulatorMicrosPerEvent float64 `json:"simulator_micros_per_event"`
	} `json:"cpu"`

	Memory Memory `json:"memory"`

	Requests Requests `json:"requests"`

	// Checks made after the last ACK (not measured).
	CursorCommitLagSeconds float64 `json:"cursor_commit_lag_seconds"` // last ACK → every state file final
	DocsInOutput           int     `json:"docs_in_output,omitempty"`  // -output file
	OutputEventsAcked      uint64  `json:"output_events_acked"`       // libbeat.output.events.acked
	Shutdown               struct {
		Seconds  float64 `json:"seconds"`
		ExitCode int     `json:"exit_code"`
		Killed   bool    `json:"killed,omitempty"`
		Error    string  `json:"error,omitempty"`
	} `json:"shutdown"`
	LogLines    int      `json:"log_lines"`
	LogWarnings int      `json:"log_warnings"`
	Notes       []string `json:"notes,omitempty"`
}

// Memory is the beat's resident set size.
type Memory struct {
	PeakRSSMiB    float64 `json:"peak_rss_mib"` // max of VmHWM before shutdown and the samples
	VmHWMMiB      float64 `json:"vmhwm_mib"`
	FinalRSSMiB   float64 `json:"final_rss_mib"`
	SampledMaxMiB float64 `json:"sampled_max_mib"`
	// SecondHalf* are the extremes of the samples taken in the second half
	// of the wall time: close values mean memory does not grow with the
	// number of events.
	SecondHalfMinMiB float64 `json:"second_half_min_mib"`
	SecondHalfMaxMiB float64 `json:"second_half_max_mib"`
	// Series is [seconds since exec, MiB] every sample period.
	Series [][2]float64 `json:"series"`
}

func (m *Memory) fill(samples []rssSample, wall time.Duration) {
	m.SecondHalfMinMiB = math.Inf(1)
	for _, s := range samples {
		v := round(mib(s.RSS), 1)
		m.Series = append(m.Series, [2]float64{round(s.At.Seconds(), 2), v})
		m.SampledMaxMiB = math.Max(m.SampledMaxMiB, v)
		if s.At >= wall/2 && s.At <= wall {
			m.SecondHalfMinMiB = math.Min(m.SecondHalfMinMiB, v)
			m.SecondHalfMaxMiB = math.Max(m.SecondHalfMaxMiB, v)
		}
	}
	if math.IsInf(m.SecondHalfMinMiB, 1) {
		m.SecondHalfMinMiB = 0
	}
}

// Requests is what the simulator saw up to the last ACK.
type Requests struct {
	Total            int            `json:"total"`           // answered, all endpoints
	Events           int            `json:"events"`          // to the events endpoints
	MinimumForEvents int            `json:"minimum"`         // full pages of 1000
	ByStatus         map[string]int `json:"by_status"`       // HTTP status → count
	PerMinute        float64        `json:"per_minute"`      // Total over the wall time
	Peak60s          int            `json:"peak_60s_window"` // most event requests received in any 60 s
	// Quietest60s is the fewest event requests in any full 60 s between the
	// run's first and last event request (-1 when that is under a minute):
	// a backlog drained at the budget's pace keeps it near the per-minute
	// budget, whereas the average and the busiest window also count the
	// budget's first burst.
	Quietest60s int `json:"quietest_60s_window"`
	// SustainedBudgetFraction is Quietest60s of the documented 600/min.
	SustainedBudgetFraction float64 `json:"sustained_budget_fraction"`
	// Budget use of the documented limits (600/min, 30,000/h) at the
	// average rate; the binding one is the larger.
	MinuteBudgetFraction float64 `json:"minute_budget_fraction"`
	HourBudgetFraction   float64 `json:"hour_budget_fraction"`
	Binding              string  `json:"binding"`
	RateLimited429       int     `json:"rate_limited_429"`    // by the simulator's budget
	All429               int     `json:"all_429"`             // including injected ones
	BeatRateLimited      uint64  `json:"beat_rate_limited"`   // eventsapibeat.*.requests.rate_limited
	BeatRequestErrors    uint64  `json:"beat_request_errors"` // eventsapibeat.*.requests.errors
}

func (r *Requests) fill(st simulator.Stats, times []time.Time, t0 time.Time, wall time.Duration) {
	r.Total = st.Requests
	for path, n := range st.ByPath {
		if strings.HasPrefix(path, "/api/") && !strings.Contains(path, "introspect") {
			r.Events += n
		}
	}
	r.ByStatus = map[string]int{}
	for _, code := range sortedKeys(st.ByStatus) {
		r.ByStatus[strconv.Itoa(code)] = st.ByStatus[code]
	}
	r.RateLimited429 = st.RateLimited
	r.All429 = st.ByStatus[429]
	r.PerMinute = float64(r.Total) / wall.Minutes()
	r.MinuteBudgetFraction = r.PerMinute / apiPerMinute
	r.HourBudgetFraction = r.PerMinute * 60 / apiPerHour
	r.Binding = "per-hour"
	if r.MinuteBudgetFraction > r.HourBudgetFraction {
		r.Binding = "per-minute"
	}
	r.Quietest60s = quietestWindow(times, t0, time.Minute)
	r.SustainedBudgetFraction = float64(max(r.Quietest60s, 0)) / apiPerMinute
	// Sliding 60 s window over the receipt times (oldest first).
	lo := 0
	for hi, t := range times {
		if t.Before(t0) {
			lo = hi + 1
			continue
		}
		for t.Sub(times[lo]) >= time.Minute {
			lo++
		}
		r.Peak60s = max(r.Peak60s, hi-lo+1)
	}
}

// quietestWindow returns the fewest times in any window (t, t+d] with t a
// time at or after t0 and t+d not after the last time; -1 when the times
// span less than d. times are oldest first.
func quietestWindow(times []time.Time, t0 time.Time, d time.Duration) int {
	first := 0
	for first < len(times) && times[first].Before(t0) {
		first++
	}
	times = times[first:]
	if len(times) == 0 || times[len(times)-1].Sub(times[0]) < d {
		return -1
	}
	last := times[len(times)-1]
	quietest := len(times)
	hi := 0
	for i, t := range times {
		if t.Add(d).After(last) {
			break
		}
		for hi < len(times) && !times[hi].After(t.Add(d)) {
			hi++
		}
		// (t, t+d] holds times[i+1:hi], less those equal to t.
		n := hi - i - 1
		for j := i + 1; j < hi && times[j].Equal(t); j++ {
			n--
		}
		quietest = min(quietest, n)
	}
	return quietest
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-30s %s\n", label, fmt.Sprintf(format, args...))
	}
	m := r.Machine
	p("eventsapibeat end-to-end benchmark")
	p("machine: nproc %d, %s, %s, kernel %s, %s, load average at start %s", m.NumCPU, m.CPUModel, m.OSArch, m.Kernel, m.GoVersion, m.LoadAvg)
	built := "given with -binary"
	if r.Binary.Built {
		built = fmt.Sprintf("built in %.1f s (CGO_ENABLED=0 -trimpath -ldflags \"-s -w\")", r.Binary.BuildSeconds)
	}
	p("binary:  %s B (%.1f MiB), %s", group(r.Binary.Bytes), r.Binary.MiB, built)
	var per []string
	for _, d := range streamDefs {
		if n, ok := r.EventsPerStream[d.Type]; ok {
			per = append(per, fmt.Sprintf("%s %s", d.Type, group(int64(n))))
		}
	}
	limits := "API limits 600/min + 30000/h (beat budget 580/min, 29000/h)"
	if r.Unlimited {
		limits = "no rate limits (simulator and beat)"
	}
	p("workload: %s events (%s) over %s, latency %s, pages of %d, %s, output %s", group(int64(r.EventsTotal)), strings.Join(per, ", "), r.Span, r.Latency, r.PageLimit, limits, r.Output)
	p("")
	p("throughput")
	line("wall, exec → last ACK", "%.2f s (startup %.2f s, first ACK at %.2f s)", r.WallSeconds, r.StartupSeconds, r.FirstAckSeconds)
	line("events/s", "%s (after startup: %s)", group(int64(r.EventsPerSecond)), group(int64(r.EventsPerSecondAfterStartup)))
	p("cpu, beat (child process, /proc at last ACK)")
	line("user+sys", "%.2f s (user %.2f, sys %.2f) = %.2f cores busy", r.CPU.BeatSeconds, r.CPU.BeatUserSeconds, r.CPU.BeatSysSeconds, r.CPU.BeatCores)
	line("per event", "%.1f µs (without the %.2f s of startup: %.1f µs)", r.CPU.MicrosPerEvent, r.CPU.BeatStartupSeconds, r.CPU.MicrosPerEventAfterStartup)
	line("total at exit (incl. shutdown)", "%.2f s", r.CPU.BeatTotalAtExitSeconds)
	p("cpu, simulator (bench process, not counted above)")
	line("user+sys", "%.2f s = %.1f µs/event", r.CPU.SimulatorSeconds, r.CPU.SimulatorMicrosPerEvent)
	p("memory, beat")
	line("peak RSS", "%.1f MiB (VmHWM before SIGTERM %.1f MiB)", r.Memory.PeakRSSMiB, r.Memory.VmHWMMiB)
	line("RSS in the second half", "min %.1f / max %.1f MiB", r.Memory.SecondHalfMinMiB, r.Memory.SecondHalfMaxMiB)
	line("RSS over time", "%s", seriesSummary(r.Memory.Series, r.WallSeconds, 12))
	p("requests (simulator, up to the last ACK)")
	line("sent", "%d (%d to the events endpoints, minimum %d; by status %v)", r.Requests.Total, r.Requests.Events, r.Requests.MinimumForEvents, r.Requests.ByStatus)
	line("rate", "%.0f/min average; %d event requests in the busiest 60 s (%.1f%% of 600)", r.Requests.PerMinute, r.Requests.Peak60s, 100*float64(r.Requests.Peak60s)/apiPerMinute)
	if r.Requests.Quietest60s >= 0 {
		line("sustained", "%d event requests in the quietest full 60 s of the run = %.1f%% of 600/min (beat budget 580/min = 96.7%%)", r.Requests.Quietest60s, 100*r.Requests.SustainedBudgetFraction)
	} else {
		line("sustained", "n/a: the event requests span less than 60 s (the beat's budget allows a burst of 580 first)")
	}
	line("API budget at the average rate", "%.1f%% of 600/min, %.1f%% of 30000/h (as %.0f/h) → %s binding at %.1f%%",
		100*r.Requests.MinuteBudgetFraction, 100*r.Requests.HourBudgetFraction, 60*r.Requests.PerMinute, r.Requests.Binding,
		100*math.Max(r.Requests.MinuteBudgetFraction, r.Requests.HourBudgetFraction))
	if math.Max(r.Requests.MinuteBudgetFraction, r.Requests.HourBudgetFraction) > 1 {
		line("", "(over 100%%: a backlog this fast to drain would be paced by the beat's budget, 580/min and 29000/h, if it lasted)")
	}
	line("429s", "%d from the rate limit (%d in all); the beat counted %d, request errors %d", r.Requests.RateLimited429, r.Requests.All429, r.Requests.BeatRateLimited, r.Requests.BeatRequestErrors)
	p("checks (after the last ACK, not measured)")
	line("cursors final", "%.3f s after the last ACK", r.CursorCommitLagSeconds)
	if r.Output == "file" {
		line("documents in the file output", "%s", group(int64(r.DocsInOutput)))
	}
	line("libbeat output acked", "%s", group(int64(r.OutputEventsAcked)))
	sd := fmt.Sprintf("%.2f s, exit code %d", r.Shutdown.Seconds, r.Shutdown.ExitCode)
	if r.Shutdown.Killed {
		sd += ", KILLED after 60 s"
	}
	if r.Shutdown.Error != "" {
		sd += " (" + r.Shutdown.Error + ")"
	}
	line("SIGTERM → exit", "%s", sd)
	line("beat log", "%d lines, %d warnings/errors (level warning)", r.LogLines, r.LogWarnings)
	for _, n := range r.Notes {
		p("note: %s", n)
	}
	if r.WorkDir != "" {
		p("work dir kept: %s", r.WorkDir)
	}
}

// seriesSummary picks about n evenly spaced samples up to the last ACK.
func seriesSummary(series [][2]float64, wall float64, n int) string {
	if len(series) == 0 {
		return "no samples"
	}
	var parts []string
	next := 0.0
	step := wall / float64(n)
	for i, s := range series {
		if s[0] > wall && i != len(series)-1 {
			continue
		}
		if s[0] >= next || i == len(series)-1 {
			parts = append(parts, fmt.Sprintf("%.1fs:%.0f", s[0], s[1]))
			next = s[0] + step
		}
	}
	return strings.Join(parts, " ") + " MiB"
}
