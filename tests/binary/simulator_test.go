package binary

import (
	"testing"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// startSimulator serves an Events API simulator on a free local port until
// the test ends and returns it with its base URL.
func startSimulator(t *testing.T, cfg simulator.Config) (*simulator.Server, string) {
	t.Helper()
	sim := newSimulator(t, cfg)
	base, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sim, base
}

// newSimulator returns a simulator, closed when the test ends, that only
// issues tokens until it is started.
func newSimulator(t *testing.T, cfg simulator.Config) *simulator.Server {
	t.Helper()
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return sim
}

// issueToken issues a token of sim with the given features.
func issueToken(t *testing.T, sim *simulator.Server, features ...string) string {
	t.Helper()
	tok, err := sim.IssueToken(simulator.TokenOptions{Features: features})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
