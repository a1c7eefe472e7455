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

// builtinDashboards lets `setup --dashboards` (and `run` with
// setup.dashboards.enabled: true) import the Kibana saved objects built into
// the binary (the _meta/kibana tree), so that a lone binary has its
// dashboards. libbeat imports from a directory (setup.dashboards.directory,
// by default <path.home>/kibana, which this beat does not ship), so the
// command copies the saved objects to a temporary directory, points the
// setting there and removes the copy when it is done, unless the user set
// setup.dashboards.directory, file or url. (libbeat exits the process when
// setup or run fails; the copy is then left in the temporary directory.)
type builtinDashboards struct {
	files fs.FS
	// directory holds setup.dashboards.directory once the saved objects are
	// copied; it is empty before, and then the override does not apply.
	directory *conf.C
	// copied is the copy's directory, "" before.
	copied string
	// onDemand makes the override copy the saved objects when the
	// configuration enables dashboards (run); setup copies them up front.
	onDemand bool
}

func newBuiltinDashboards(files fs.FS) *builtinDashboards {
	return &builtinDashboards{files: files, directory: conf.NewConfig()}
}

// override is the configuration override that points libbeat at the copy.
// libbeat merges it beneath the user's settings.
func (d *builtinDashboards) override() cfgfile.ConditionalOverride {
	return cfgfile.ConditionalOverride{
		Check: func(c *conf.C) bool {
			if userSet(c, "setup.dashboards.directory") || userSet(c, "setup.dashboards.file") || userSet(c, "setup.dashboards.url") {
				return false
			}
			if d.copied == "" && d.onDemand && settingTrue(c, "setup.dashboards.enabled") {
				if err := d.extract(); err != nil {
					fmt.Fprintf(os.Stderr, "preparing the built-in dashboards: %v\n", err)
					return false
				}
			}
			return d.copied != ""
		},
		Config: d.directory,
	}
}

// wrapSetup makes the setup command copy the saved objects before libbeat
// reads its configuration.
func (d *builtinDashboards) wrapSetup(setup *cobra.Command) {
	run := setup.Run
	setup.Run = func(c *cobra.Command, args []string) {
		if err := d.extract(); err != nil {
			fmt.Fprintf(os.Stderr, "Exiting: preparing the built-in dashboards: %v\n", err)
			os.Exit(1)
		}
		defer d.remove()
		run(c, args)
	}
}

// wrapRun makes a command that runs the beat copy the saved objects if its
// configuration enables dashboards.
func (d *builtinDashboards) wrapRun(cmd *cobra.Command) {
	run := cmd.Run
	cmd.Run = func(c *cobra.Command, args []string) {
		d.onDemand = true
		defer d.remove()
		run(c, args)
	}
}

// extract copies the saved objects to a new temporary directory and sets
// setup.dashboards.directory to it.
func (d *builtinDashboards) extract() error {
	dir, err := os.MkdirTemp("", "eventsapibeat-kibana-")
	if err != nil {
		return fmt.Errorf("creating a temporary directory: %w", err)
	}
	if err := copyFS(dir, d.files); err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := d.directory.SetString("setup.dashboards.directory", -1, dir); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("setting setup.dashboards.directory: %w", err)
	}
	d.copied = dir
	return nil
}

// remove deletes the copy, if any.
func (d *builtinDashboards) remove() {
	if d.copied != "" {
		os.RemoveAll(d.copied)
	}
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
