package cmd

import (
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
