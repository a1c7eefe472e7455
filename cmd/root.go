// Package cmd builds eventsapibeat's command line: libbeat's standard
// commands (run, setup, test, export, keystore, version) plus the beat's own
// (demo, cursor, test api).
package cmd

import (
	"flag"
	"strings"

	"github.com/elastic/beats/v7/libbeat/cfgfile"
	"github.com/elastic/beats/v7/libbeat/cmd"
	"github.com/elastic/beats/v7/libbeat/cmd/instance"
	"github.com/elastic/beats/v7/libbeat/publisher/processing"
	conf "github.com/elastic/elastic-agent-libs/config"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/include"
)

// Settings are the beat's libbeat settings.
func Settings() instance.Settings {
	return instance.Settings{
		Name:    beater.Name,
		Version: beater.Version,
		// ecs.version, host.*, agent.* and the global processors: section.
		Processing:      processing.MakeDefaultBeatSupport(true),
		ConfigOverrides: defaultOverrides(),
		Initialize:      []func(){include.Init},
	}
}

// New returns the root command.
func New() *cmd.BeatsRootCmd {
	return newRoot(Settings())
}

func newRoot(settings instance.Settings) *cmd.BeatsRootCmd {
	root := cmd.GenRootCmdWithSettings(beater.New, settings)
	for _, c := range root.ExportCmd.Commands() {
		if c.Name() == "dashboard" { // no dashboards yet
			root.ExportCmd.RemoveCommand(c)
		}
	}
	root.AddCommand(genDemoCmd(settings))
	root.AddCommand(genCursorCmd(settings))
	root.TestCmd.AddCommand(genTestAPICmd(settings))
	return root
}

// defaultOverrides are defaults that differ from libbeat's and apply only
// when the user configured nothing in their place.
func defaultOverrides() []cfgfile.ConditionalOverride {
	return []cfgfile.ConditionalOverride{{
		// libbeat's memory queue holds events up to 10 s before flushing
		// a small batch; a poll's events should reach the output in about a
		// second (and so be acknowledged, which advances the cursor).
		Check: func(c *conf.C) bool {
			return !userSet(c, "queue.mem.flush.timeout") && !userSet(c, "queue.disk")
		},
		Config: conf.MustNewConfigFrom(map[string]any{"queue.mem.flush.timeout": "1s"}),
	}}
}

// userSet reports whether the configuration file or a -E flag sets the
// dotted key.
func userSet(file *conf.C, key string) bool {
	if hasPath(file, key) {
		return true
	}
	if f := flag.CommandLine.Lookup("E"); f != nil {
		if s, ok := f.Value.(*conf.SettingsFlag); ok && hasPath(s.Config(), key) {
			return true
		}
	}
	return false
}

// hasPath walks a dotted key through nested settings (HasField looks at one
// level only).
func hasPath(c *conf.C, key string) bool {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		if c == nil || !c.HasField(p) {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		child, err := c.Child(p, -1)
		if err != nil {
			return false
		}
		c = child
	}
	return false
}
