//go:build mage

// Build, test and generate eventsapibeat. Run with: go tool mage -l
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/magefile/mage/mg"
	"github.com/magefile/mage/sh"
)

const beatName = "eventsapibeat"

// Build builds a static, stripped eventsapibeat binary stamped with the commit.
func Build() error {
	commit, _ := sh.Output("git", "rev-parse", "HEAD")
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X github.com/elastic/beats/v7/libbeat/version.commit=" + commit,
		"-X github.com/elastic/beats/v7/libbeat/version.buildTime=" + time.Now().UTC().Format(time.RFC3339),
	}, " ")
	env := map[string]string{"CGO_ENABLED": "0"}
	return sh.RunWithV(env, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", beatName, ".")
}

// Fields regenerates include/fields.yml from libbeat's fields and every _meta/fields.yml.
func Fields() error {
	return sh.RunV("go", "generate", "./include")
}

// Update regenerates every generated file (include/fields.yml). The Kibana
// saved objects in _meta/kibana and the Logstash sample in _meta/logstash are
// edited by hand; the build embeds the saved objects, so a rebuilt binary
// loads them with setup --dashboards.
func Update() {
	mg.SerialDeps(Fields)
}

// Test runs every test, as CI does.
func Test() error {
	return sh.RunV("go", "test", "./...")
}

// Check runs gofmt, go vet and verifies that generated files are up to date.
func Check() error {
	out, err := sh.Output("gofmt", "-l", ".")
	if err != nil {
		return err
	}
	if out != "" {
		return fmt.Errorf("gofmt would change:\n%s", out)
	}
	if err := sh.RunV("go", "vet", "./..."); err != nil {
		return err
	}
	mg.Deps(Fields)
	return sh.RunV("git", "diff", "--exit-code", "--", "include/fields.yml")
}

// Demo runs the beat against its built-in Events API simulator, printing documents on the console.
func Demo() error {
	cmd := exec.Command("go", "run", ".", "demo", "-e")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}

// Bench runs the end-to-end benchmark (go run ./internal/bench): it builds the
// binary, serves 3 × 100,000 events from the simulator with the API's rate
// limits, writes them with the file output and reports throughput, CPU per
// event, memory and API budget use. BENCH_FLAGS adds flags, for example
// BENCH_FLAGS="-output discard -latency 150ms -json" go tool mage bench
// (go run ./internal/bench -h lists them).
func Bench() error {
	args := append([]string{"run", "./internal/bench"}, strings.Fields(os.Getenv("BENCH_FLAGS"))...)
	return sh.RunV("go", args...)
}

// Clean removes the built binary.
func Clean() error {
	return sh.Rm(beatName)
}
