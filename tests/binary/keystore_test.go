package binary

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// TestTokenFromKeystoreAndEnvironment: auth_token: ${VAR} resolves from the
// beat's keystore and from the environment, and a stream whose variable is
// set nowhere is reported by its setting name.
func TestTokenFromKeystoreAndEnvironment(t *testing.T) {
	sim := newSimulator(t, simulator.Config{Seed: 3})
	token := issueToken(t, sim, "signinattempts", "itemusages")
	home := t.TempDir()
	run := func(env []string, stdin string, args ...string) (string, error) {
		cmd := exec.Command(binaryPath, append(args, "--path.home", home)...)
		cmd.Dir = home
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	cfg := filepath.Join(home, "eventsapibeat.yml")
	content := fmt.Sprintf(`eventsapibeat:
  url: "http://127.0.0.1:1"
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_ATTEMPTS_TOKEN}"
    cursor_state_file: %q
  item_usages:
    enabled: true
    auth_token: "${ITEM_USAGES_TOKEN}"
    cursor_state_file: %q
output.console: {}
`, filepath.Join(home, "s.state"), filepath.Join(home, "i.state"))
	if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	if out, err := run(nil, "", "keystore", "create", "-c", cfg); err != nil {
		t.Fatalf("keystore create: %v\n%s", err, out)
	}
	if out, err := run(nil, token, "keystore", "add", "SIGNIN_ATTEMPTS_TOKEN", "--stdin", "-c", cfg); err != nil {
		t.Fatalf("keystore add: %v\n%s", err, out)
	}
	// Keystore for one stream, environment for the other.
	out, err := run([]string{"ITEM_USAGES_TOKEN=" + token}, "", "test", "config", "-c", cfg)
	if err != nil || !strings.Contains(out, "Config OK") {
		t.Fatalf("test config with keystore + environment tokens: %v\n%s", err, out)
	}
	if strings.Contains(out, token) {
		t.Fatal("test config printed the token")
	}

	// Neither source for item_usages: that stream is reported, the other runs.
	out, err = run(nil, "", "test", "config", "-c", cfg, "-e")
	if err != nil || !strings.Contains(out, "eventsapibeat.item_usages.auth_token") {
		t.Fatalf("want Config OK with item_usages reported; err %v\n%s", err, out)
	}
	if strings.Contains(out, token) {
		t.Fatal("the log printed the token")
	}
}
