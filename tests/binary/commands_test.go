package binary

import (
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/mock-es/pkg/api"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// staticUUID is the cluster UUID mock-es reports.
type staticUUID string

func (u staticUUID) String() string { return string(u) }

// TestLibbeatCommands is a smoke test of the libbeat commands a user runs
// around the beat, on one installation: keystore create, add and list, the
// token resolved from the keystore by ${VAR}, export config, test config and
// test output against Elastic's mock Elasticsearch (and against none).
func TestLibbeatCommands(t *testing.T) {
	es := httptest.NewServer(api.NewAPIHandler(staticUUID("eventsapibeat-smoke"), "eventsapibeat-smoke-cluster", nil, time.Now().Add(time.Hour), 0, 0, 0, 0, 0, 0))
	defer es.Close()
	sim := newSimulator(t, simulator.Config{Seed: 11})
	token := issueToken(t, sim, "signinattempts")

	home := t.TempDir()
	cfg := filepath.Join(home, "eventsapibeat.yml")
	config := func(esURL string) {
		t.Helper()
		content := fmt.Sprintf(`eventsapibeat:
  url: "http://127.0.0.1:1"
  signin_attempts:
    enabled: true
    auth_token: "${SIGNIN_ATTEMPTS_TOKEN}"
    cursor_state_file: %q
output.elasticsearch:
  hosts: [%q]
`, filepath.Join(home, "signinattempts.state"), esURL)
		if err := os.WriteFile(cfg, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config(es.URL)
	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(binaryPath, append(args, "-c", cfg, "--path.home", home)...)
		cmd.Dir = home
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if strings.Contains(string(out), token) {
			t.Errorf("eventsapibeat %s printed the token", strings.Join(args, " "))
		}
		return string(out), err
	}

	t.Run("keystore", func(t *testing.T) {
		if out, err := run("", "keystore", "create"); err != nil {
			t.Fatalf("keystore create: %v\n%s", err, out)
		}
		if _, err := os.Stat(filepath.Join(home, "data", "eventsapibeat.keystore")); err != nil {
			t.Fatalf("keystore create wrote no data/eventsapibeat.keystore: %v", err)
		}
		if out, err := run(token, "keystore", "add", "SIGNIN_ATTEMPTS_TOKEN", "--stdin"); err != nil {
			t.Fatalf("keystore add: %v\n%s", err, out)
		}
		out, err := run("", "keystore", "list")
		if err != nil || !strings.Contains(out, "SIGNIN_ATTEMPTS_TOKEN") {
			t.Fatalf("keystore list: %v\n%s", err, out)
		}
		if out, err := run(token, "keystore", "add", "SIGNIN_ATTEMPTS_TOKEN", "--stdin"); err == nil {
			t.Fatalf("keystore add of an existing key without --force succeeded:\n%s", out)
		}
	})

	t.Run("test config", func(t *testing.T) {
		// The token comes from the keystore only (no environment variable),
		// and the beat accepts it: it is a valid token for the stream.
		out, err := run("", "test", "config")
		if err != nil || !strings.Contains(out, "Config OK") {
			t.Fatalf("test config: %v\n%s", err, out)
		}
	})

	t.Run("export config", func(t *testing.T) {
		out, err := run("", "export", "config")
		if err != nil {
			t.Fatalf("export config: %v\n%s", err, out)
		}
		c, err := conf.NewConfigWithYAML([]byte(out), "export config")
		if err != nil {
			t.Fatalf("export config is not YAML: %v\n%s", err, out)
		}
		var got struct {
			Enabled bool     `config:"eventsapibeat.signin_attempts.enabled"`
			Hosts   []string `config:"output.elasticsearch.hosts"`
		}
		if err := c.Unpack(&got); err != nil {
			t.Fatalf("export config: %v\n%s", err, out)
		}
		if !got.Enabled || len(got.Hosts) != 1 || got.Hosts[0] != es.URL {
			t.Fatalf("export config gives %+v\n%s", got, out)
		}
		// The keystore reference is printed, never the secret (checked by run).
		if !strings.Contains(out, "auth_token: ${SIGNIN_ATTEMPTS_TOKEN}") {
			t.Fatalf("export config does not show the keystore reference:\n%s", out)
		}
	})

	t.Run("test output", func(t *testing.T) {
		out, err := run("", "test", "output")
		if err != nil {
			t.Fatalf("test output against mock-es: %v\n%s", err, out)
		}
		for _, want := range []string{"talk to server... OK", "version:"} {
			if !strings.Contains(out, want) {
				t.Errorf("test output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("test output, Elasticsearch down", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		down := "http://" + l.Addr().String()
		l.Close()
		config(down)
		out, err := run("", "test", "output")
		if err == nil || !strings.Contains(out, "ERROR") {
			t.Fatalf("test output against a closed port: err %v, want a failure\n%s", err, out)
		}
	})
}
