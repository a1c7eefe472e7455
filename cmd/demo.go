package cmd

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/elastic/beats/v7/libbeat/cmd/instance"
	"github.com/spf13/cobra"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// demoOptions size the simulated account.
type demoOptions struct {
	events int
	span   time.Duration
	live   time.Duration
}

// genDemoCmd is `eventsapibeat demo`: the built-in Events API simulator in
// this process, and the real beat against it, printing ECS documents on the
// console (or into any output chosen with -E). No 1Password account needed.
func genDemoCmd(settings instance.Settings) *cobra.Command {
	opts := demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run " + settings.Name + " against its built-in Events API simulator",
		Long: "Starts the built-in 1Password Events API simulator in this process, issues it a token for every\n" +
			"event type, and runs the beat against it. Documents go to the console unless an output is\n" +
			"chosen with -E (for example -E output.file.path=/tmp/out). Stop with Ctrl-C.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("c") {
				return fmt.Errorf("demo writes its own configuration; choose an output with -E instead of -c")
			}
			return runDemo(settings, opts)
		},
	}
	c.Flags().IntVar(&opts.events, "events", 50, "events per event type already in the simulated account at start")
	c.Flags().DurationVar(&opts.span, "span", 24*time.Hour, "how far back the initial events go")
	c.Flags().DurationVar(&opts.live, "live", 2*time.Second, "a new event of each type arrives this often (0: none)")
	return c
}

func runDemo(settings instance.Settings, opts demoOptions) error {
	types := all.Types()
	counts := make(map[string]int, len(types))
	for _, t := range types {
		counts[t.Name] = opts.events
	}
	sim, err := simulator.New(simulator.Config{
		Seed:         time.Now().UnixNano(),
		Events:       counts,
		Span:         opts.span,
		LiveInterval: opts.live,
	})
	if err != nil {
		return fmt.Errorf("demo: starting the simulator: %w", err)
	}
	defer sim.Close()
	baseURL, err := sim.Start("127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: starting the simulator: %w", err)
	}
	features := make([]string, 0, len(types))
	for _, t := range types {
		features = append(features, t.Name)
	}
	token, err := sim.IssueToken(simulator.TokenOptions{Features: features})
	if err != nil {
		return fmt.Errorf("demo: issuing a token: %w", err)
	}

	dir, err := os.MkdirTemp("", "eventsapibeat-demo-")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer os.RemoveAll(dir)

	streams := map[string]any{}
	for _, t := range types {
		streams[t.ConfigKey] = map[string]any{
			"enabled":           true,
			"auth_token":        token,
			"sample_frequency":  "1s",
			"cursor_state_file": filepath.Join(dir, t.Name+".state"),
			"starting_cursor":   fmt.Sprintf(`{"limit": 100, "start_time": %q}`, time.Now().Add(-opts.span-time.Minute).UTC().Format(time.RFC3339)),
		}
	}
	streams["url"] = baseURL
	doc := map[string]any{
		"eventsapibeat": streams,
		"path.data":     filepath.Join(dir, "data"),
		"path.logs":     filepath.Join(dir, "logs"),
	}
	if !userSet(nil, "output") {
		doc["output.console"] = map[string]any{"pretty": true}
	}
	// JSON is YAML, and needs no extra dependency.
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("demo: writing its configuration: %w", err)
	}
	cfgPath := filepath.Join(dir, settings.Name+".yml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		return fmt.Errorf("demo: writing its configuration: %w", err)
	}
	if err := flag.CommandLine.Set("c", cfgPath); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(os.Stderr, "demo: Events API simulator at %s with %d events per type, a new one every %s; Ctrl-C to stop\n", baseURL, opts.events, opts.live)
	return instance.Run(settings, beater.New)
}
