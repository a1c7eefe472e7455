// Command eventsapibeat ships 1Password Events API activity (sign-in
// attempts, item usages, audit events) to any libbeat output as ECS documents.
package main

import (
	"embed"
	"fmt"
	"io/fs"
	"os"

	"github.com/eventsapibeat/eventsapibeat/cmd"
)

// kibana holds the Kibana saved objects that `setup --dashboards` loads.
//
//go:embed _meta/kibana
var kibana embed.FS

func main() {
	dashboards, err := fs.Sub(kibana, "_meta/kibana")
	if err != nil {
		fmt.Fprintln(os.Stderr, "built-in dashboards:", err)
		os.Exit(1)
	}
	if err := cmd.New(dashboards).Execute(); err != nil {
		os.Exit(1)
	}
}
