// Command eventsapibeat ships 1Password Events API activity (sign-in
// attempts, item usages, audit events) to any libbeat output as ECS documents.
package main

import (
	"os"

	"github.com/eventsapibeat/eventsapibeat/cmd"
)

func main() {
	if err := cmd.New().Execute(); err != nil {
		os.Exit(1)
	}
}
