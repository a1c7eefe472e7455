//go:build linux

// Command bench is eventsapibeat's end-to-end benchmark: it builds the beat
// (or takes -binary), serves a chosen volume of events from the in-process
// Events API simulator, runs the real binary against it until every event is
// acknowledged and every cursor committed, and reports throughput, CPU per
// event, memory, API requests and budget use.
//
//	go run ./internal/bench                       # 3 × 100,000 events, file output
//	go run ./internal/bench -output discard -json
//	go run ./internal/bench -itemusages 200000 -signinattempts 0 -auditevents 0 -latency 150ms
//	go run ./internal/bench -unlimited            # no rate limit in the simulator or the beat
//	go run ./internal/bench -itemusages 1000000 -signinattempts 0 -auditevents 0 -latency 500ms
//	                                              # one stream's parallel backfill against the budget
//
// The beat's CPU is read from /proc/<pid>/stat when the last event is
// acknowledged; the simulator runs in the bench process and its CPU is
// reported separately. Linux only.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

func main() {
	var (
		opts                   Options
		signins, items, audits int
		asJSON, quiet          bool
	)
	flag.StringVar(&opts.Binary, "binary", "", "eventsapibeat binary to run (default: build one with CGO_ENABLED=0 -trimpath -ldflags \"-s -w\")")
	flag.IntVar(&signins, "signinattempts", 100000, "sign-in attempts to serve (0 disables the stream)")
	flag.IntVar(&items, "itemusages", 100000, "item usages to serve (0 disables the stream)")
	flag.IntVar(&audits, "auditevents", 100000, "audit events to serve (0 disables the stream)")
	flag.DurationVar(&opts.Span, "span", 30*24*time.Hour, "time span the events are spread over (at most 119 days)")
	flag.DurationVar(&opts.Latency, "latency", 0, "simulated round trip added to every API response")
	flag.BoolVar(&opts.Unlimited, "unlimited", false, "disable the API rate limits (600/min, 30000/h) in the simulator and the beat's budget")
	flag.StringVar(&opts.Output, "output", "file", "beat output: file (documents counted) or discard")
	flag.IntVar(&opts.PageLimit, "limit", defaultPageLimit, "events per page (starting_cursor limit, 1..1000)")
	flag.Int64Var(&opts.Seed, "seed", 1, "simulator seed")
	flag.DurationVar(&opts.Timeout, "timeout", time.Hour, "give up after this long")
	flag.DurationVar(&opts.Sample, "sample", 100*time.Millisecond, "RSS and /stats sampling period")
	flag.BoolVar(&opts.KeepDir, "keep", false, "keep the temporary directory (config, output, state files)")
	flag.Func("beatarg", "extra argument for the beat, repeatable (e.g. -beatarg=--cpuprofile=/tmp/cpu.prof -beatarg=-E -beatarg=queue.mem.events=8192)", func(s string) error {
		opts.BeatArgs = append(opts.BeatArgs, s)
		return nil
	})
	flag.BoolVar(&asJSON, "json", false, "print the report as one line of JSON")
	flag.BoolVar(&quiet, "q", false, "no progress lines on stderr")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	opts.Events = map[string]int{
		simulator.SignInAttempts: signins,
		simulator.ItemUsages:     items,
		simulator.AuditEvents:    audits,
	}
	if !quiet {
		opts.Progress = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if asJSON {
		// One line, for jq and for collecting runs.
		if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	rep.WriteText(os.Stdout)
}
