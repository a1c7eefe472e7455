// Package cmd builds eventsapibeat's command line: libbeat's standard
// commands (run, setup, test, export, keystore, version) plus the beat's own
// (demo, cursor, test api), with the Kibana dashboards built in.
package cmd

import (
	"flag"
	"io/fs"
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
		// setup --dashboards, setup.dashboards.*, export dashboard.
		HasDashboards: true,
	}
}

// New returns the root command. dashboards holds the Kibana saved objects
// that `setup --dashboards` imports (the layout of _meta/kibana:
// <kibana major>/<type>/<id>.json).
func New(dashboards fs.FS) *cmd.BeatsRootCmd {
	builtin := newBuiltinDashboards(dashboards)
	settings := Settings()
	settings.ConfigOverrides = append(settings.ConfigOverrides, builtin.override())
	root := newRoot(settings)
	builtin.wrapSetup(root.SetupCmd)
	builtin.wrapRun(root.RunCmd)
	builtin.wrapRun(&root.Command) // the root command runs the beat too
	return root
}

func newRoot(settings instance.Settings) *cmd.BeatsRootCmd {
	root := cmd.GenRootCmdWithSettings(beater.New, settings)
	root.AddCommand(genDemoCmd(settings))
	root.AddCommand(genCursorCmd(settings))
	root.TestCmd.AddCommand(genTestAPICmd(settings))
	addTrafficFlags(root)
	return root
}

// addTrafficFlags adds --record-dir and --replay-dir, shorthands for
// -E eventsapibeat.record_dir=DIR and -E eventsapibeat.replay_dir=DIR: they
// write into the same overwrites as -E, so every command that loads the
// configuration (run, demo, test config) sees them. Like libbeat's own flags
// they live in flag.CommandLine, because libbeat parses the command line
// again with the standard flag package.
func addTrafficFlags(root *cmd.BeatsRootCmd) {
	e := flag.CommandLine.Lookup("E")
	if e == nil {
		return
	}
	overwrites, ok := e.Value.(*conf.SettingsFlag)
	if !ok {
		return
	}
	for _, f := range []struct{ name, setting, usage string }{
		{"record-dir", "eventsapibeat.record_dir", "Record every Events API request and response (tokens removed) under this directory"},
		{"replay-dir", "eventsapibeat.replay_dir", "Answer every Events API request from the recording in this directory; no network, no token needed"},
	} {
		if flag.CommandLine.Lookup(f.name) == nil {
			conf.ConfigOverwriteFlag(flag.CommandLine, overwrites.Config(), f.name, f.setting, "", f.usage)
		}
		root.PersistentFlags().AddGoFlag(flag.CommandLine.Lookup(f.name))
	}
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

// settingTrue reports whether the configuration file or a -E flag sets the
// dotted key to true (a -E flag wins, as in libbeat).
func settingTrue(file *conf.C, key string) bool {
	if f := flag.CommandLine.Lookup("E"); f != nil {
		if s, ok := f.Value.(*conf.SettingsFlag); ok && hasPath(s.Config(), key) {
			v, err := s.Config().Bool(key, -1)
			return err == nil && v
		}
	}
	if hasPath(file, key) {
		v, err := file.Bool(key, -1)
		return err == nil && v
	}
	return false
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
