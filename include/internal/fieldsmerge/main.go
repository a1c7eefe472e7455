// Command fieldsmerge rewrites the fields.yml that libbeat's global_fields
// generated so that every field is defined once (see Merge). go generate
// ./include runs it.
//
// Usage: go run ./internal/fieldsmerge fields.yml
package main

import (
	"fmt"
	"os"

	"github.com/elastic/beats/v7/libbeat/mapping"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fieldsmerge fields.yml")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "fieldsmerge:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	out, err := Merge(in)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// The same check global_fields makes on what it writes.
	if _, err := mapping.LoadFields(out); err != nil {
		return fmt.Errorf("%s: the merged fields are invalid: %w", path, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
