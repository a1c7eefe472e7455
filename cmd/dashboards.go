package cmd

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/elastic/beats/v7/libbeat/cfgfile"
	"github.com/spf13/cobra"

	conf "github.com/elastic/elastic-agent-libs/config"
)

// builtinDashboards lets `setup --dashboards` import the Kibana saved objects
// built into the binary (the _meta/kibana tree), so that a lone binary has
// its dashboards. libbeat imports from a directory (setup.dashboards.directory,
// by default <path.home>/kibana, which this beat does not ship), so setup
// copies the saved objects to a temporary directory and points the setting
// there, unless the user set setup.dashboards.directory, file or url.
type builtinDashboards struct {
	files fs.FS
	// directory holds setup.dashboards.directory once setup has copied the
	// saved objects; empty otherwise, and then the override does not apply.
	directory *conf.C
}

func newBuiltinDashboards(files fs.FS) *builtinDashboards {
	return &builtinDashboards{files: files, directory: conf.NewConfig()}
}

// override is the configuration override that points libbeat at the copy.
func (d *builtinDashboards) override() cfgfile.ConditionalOverride {
	return cfgfile.ConditionalOverride{
		Check: func(c *conf.C) bool {
			return d.directory.HasField("setup") &&
				!userSet(c, "setup.dashboards.directory") &&
				!userSet(c, "setup.dashboards.file") &&
				!userSet(c, "setup.dashboards.url")
		},
		Config: d.directory,
	}
}

// wrapSetup makes the setup command copy the saved objects before libbeat
// reads its configuration, and remove them when it is done. (libbeat exits
// the process when setup fails; the copy is then left in the temporary
// directory.)
func (d *builtinDashboards) wrapSetup(setup *cobra.Command) {
	run := setup.Run
	setup.Run = func(c *cobra.Command, args []string) {
		dir, err := d.extract()
		if err != nil {
			fmt.Fprintf(os.Stderr, "Exiting: preparing the built-in dashboards: %v\n", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		run(c, args)
	}
}

// extract copies the saved objects to a new temporary directory and sets
// setup.dashboards.directory to it.
func (d *builtinDashboards) extract() (string, error) {
	dir, err := os.MkdirTemp("", "eventsapibeat-kibana-")
	if err != nil {
		return "", fmt.Errorf("creating a temporary directory: %w", err)
	}
	if err := copyFS(dir, d.files); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := d.directory.SetString("setup.dashboards.directory", -1, dir); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("setting setup.dashboards.directory: %w", err)
	}
	return dir, nil
}

// copyFS writes every file of files under dir.
func copyFS(dir string, files fs.FS) error {
	return fs.WalkDir(files, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		target := filepath.Join(dir, filepath.FromSlash(path))
		if e.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", target, err)
			}
			return nil
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", target, err)
		}
		return nil
	})
}
