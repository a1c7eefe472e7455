//go:build !linux

// Command bench is eventsapibeat's end-to-end benchmark. It reads the beat's
// CPU and memory from /proc and so runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: Linux only (it reads /proc)")
	os.Exit(2)
}
