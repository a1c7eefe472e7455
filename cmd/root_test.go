package cmd

import (
	"flag"
	"testing"

	conf "github.com/elastic/elastic-agent-libs/config"
)

// TestQueueFlushDefault: the 1 s flush default applies unless the user chose
// a flush timeout or another queue type.
func TestQueueFlushDefault(t *testing.T) {
	overrides := defaultOverrides()
	if len(overrides) != 1 {
		t.Fatalf("%d overrides, want 1", len(overrides))
	}
	var got struct {
		Timeout string `config:"queue.mem.flush.timeout"`
	}
	if err := overrides[0].Config.Unpack(&got); err != nil || got.Timeout != "1s" {
		t.Fatalf("override = %+v (%v), want queue.mem.flush.timeout 1s", got, err)
	}
	cases := []struct {
		name  string
		yml   string
		apply bool
	}{
		{"no queue settings", "output.console: {}", true},
		{"other mem queue settings", "queue.mem.events: 4096", true},
		{"user flush timeout", "queue.mem.flush.timeout: 5s", false},
		{"disk queue", "queue.disk.max_size: 1GB", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := conf.NewConfigWithYAML([]byte(tc.yml), "test")
			if err != nil {
				t.Fatal(err)
			}
			if got := overrides[0].Check(c); got != tc.apply {
				t.Fatalf("applies = %v, want %v", got, tc.apply)
			}
		})
	}
}

// TestTrafficFlags: --record-dir and --replay-dir set the same settings as
// -E eventsapibeat.record_dir=… and -E eventsapibeat.replay_dir=….
func TestTrafficFlags(t *testing.T) {
	root := newRoot(Settings())
	e, ok := flag.CommandLine.Lookup("E").Value.(*conf.SettingsFlag)
	if !ok {
		t.Fatal("libbeat's -E flag is missing")
	}
	for flagName, setting := range map[string]string{
		"record-dir": "eventsapibeat.record_dir",
		"replay-dir": "eventsapibeat.replay_dir",
	} {
		if err := root.PersistentFlags().Set(flagName, "/tmp/dir of "+flagName); err != nil {
			t.Fatalf("--%s: %v", flagName, err)
		}
		got, err := e.Config().String(setting, -1)
		if err != nil || got != "/tmp/dir of "+flagName {
			t.Fatalf("--%s set %s = %q (%v)", flagName, setting, got, err)
		}
		if root.RunCmd.InheritedFlags().Lookup(flagName) == nil {
			t.Errorf("run does not take --%s", flagName)
		}
	}
}
