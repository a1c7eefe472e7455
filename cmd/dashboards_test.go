package cmd

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	conf "github.com/elastic/elastic-agent-libs/config"
)

// TestBuiltinDashboards: the override points setup.dashboards.directory at
// the copied saved objects only once setup has copied them, and never when
// the user chose their own directory, archive or URL.
func TestBuiltinDashboards(t *testing.T) {
	files := fstest.MapFS{
		"7/dashboard/d.json":     {Data: []byte(`{"id":"d"}`)},
		"7/visualization/v.json": {Data: []byte(`{"id":"v"}`)},
	}
	d := newBuiltinDashboards(files)
	override := d.override()
	plain, err := conf.NewConfigWithYAML([]byte("output.console: {}"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if override.Check(plain) {
		t.Fatal("the override applies before setup copied the dashboards")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	if err := d.extract(); err != nil {
		t.Fatal(err)
	}
	dir := d.copied
	for name := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != string(files[name].Data) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	var set struct {
		Dir string `config:"setup.dashboards.directory"`
	}
	if err := override.Config.Unpack(&set); err != nil || set.Dir != dir {
		t.Fatalf("override sets %q (%v), want %q", set.Dir, err, dir)
	}
	for _, tc := range []struct {
		yml   string
		apply bool
	}{
		{"output.console: {}", true},
		{"setup.dashboards.enabled: true", true},
		{"setup.dashboards.directory: /opt/kibana", false},
		{"setup.dashboards.file: /opt/dashboards.zip", false},
		{"setup.dashboards.url: https://example.com/dashboards.zip", false},
	} {
		c, err := conf.NewConfigWithYAML([]byte(tc.yml), "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := override.Check(c); got != tc.apply {
			t.Errorf("%s: applies = %v, want %v", tc.yml, got, tc.apply)
		}
	}
	d.remove()
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("remove left %v", left)
	}
}

// TestBuiltinDashboardsOnDemand: when the beat runs, the saved objects are
// copied only if the configuration enables dashboards.
func TestBuiltinDashboardsOnDemand(t *testing.T) {
	for _, tc := range []struct {
		yml  string
		copy bool
	}{
		{"output.console: {}", false},
		{"setup.dashboards.enabled: false", false},
		{"setup.dashboards.enabled: true", true},
		{"setup.dashboards:\n  enabled: true\n  directory: /opt/kibana", false},
	} {
		t.Run(tc.yml, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			d := newBuiltinDashboards(fstest.MapFS{"7/dashboard/d.json": {Data: []byte(`{}`)}})
			d.onDemand = true
			c, err := conf.NewConfigWithYAML([]byte(tc.yml), "test")
			if err != nil {
				t.Fatal(err)
			}
			if got := d.override().Check(c); got != tc.copy {
				t.Errorf("applies = %v, want %v", got, tc.copy)
			}
			if got := d.copied != ""; got != tc.copy {
				t.Errorf("copied = %v, want %v", got, tc.copy)
			}
			d.remove()
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("remove left %v", left)
			}
		})
	}
}
