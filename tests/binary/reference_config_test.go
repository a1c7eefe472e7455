package binary

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	conf "github.com/elastic/elastic-agent-libs/config"

	beatconfig "github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
	"github.com/eventsapibeat/eventsapibeat/module/all"
)

// The configuration files shipped at the repository root.
const (
	referenceFile = "eventsapibeat.reference.yml"
	shortFile     = "eventsapibeat.yml"
)

// referenceGlobalKeys are the settings directly under eventsapibeat: that the
// beat accepts (config.Config, including the inlined libbeat HTTP transport
// settings), as the user writes them.
var referenceGlobalKeys = []string{
	"insecure_skip_verify",
	"url",
	"api_version",
	"preserve_original_event",
	"shutdown_timeout",
	"auth_token",
	"auth_token_file",
	"token_expiry_warning_days",
	"rate_limit.per_minute",
	"rate_limit.per_hour",
	"backoff.init",
	"backoff.max",
	"circuit_breaker.failure_threshold",
	"circuit_breaker.success_threshold",
	"circuit_breaker.open_timeout",
	"backfill.parallel_slices",
	"backfill.min_window",
	"record_dir",
	"replay_dir",
	"replay_state_dir",
	"timeout",
	"proxy_url",
	"proxy_disable",
	"proxy_headers",
	"idle_connection_timeout",
	"ssl.enabled",
	"ssl.verification_mode",
	"ssl.supported_protocols",
	"ssl.cipher_suites",
	"ssl.certificate_authorities",
	"ssl.certificate",
	"ssl.key",
	"ssl.key_passphrase",
	"ssl.key_passphrase_path",
	"ssl.curve_types",
	"ssl.renegotiation",
	"ssl.ca_sha256",
	"ssl.ca_trusted_fingerprint",
}

// referenceStreamKeys are the settings of every stream section
// (eventsapibeat.<stream>.*, config.Stream).
var referenceStreamKeys = []string{
	"enabled",
	"auth_token",
	"auth_token_file",
	"sample_frequency",
	"cursor_state_file",
	"starting_cursor",
	"url",
	"api_version",
}

// streamKeysReadApart are stream settings that config.Load reads outside the
// struct (tagged config:"-"), so reflection does not see them.
var streamKeysReadApart = []string{"auth_token"}

// globalKeysReadApart are the global settings read outside the struct.
var globalKeysReadApart = []string{"auth_token"}

// TestReferenceConfigTestConfig runs `eventsapibeat test config` on the
// shipped configuration files, as users would after editing them.
func TestReferenceConfigTestConfig(t *testing.T) {
	sim := newSimulator(t, simulator.Config{Seed: 1})
	token := issueToken(t, sim, "signinattempts", "itemusages", "auditevents")

	for _, tc := range []struct {
		file  string
		extra []string
	}{
		{
			// Everything is commented out and every stream disabled: enable
			// one, and give the beat an output (all outputs are commented
			// out too, and libbeat requires one).
			file: referenceFile,
			extra: []string{
				"-E", "eventsapibeat.signin_attempts.enabled=true",
				"-E", "eventsapibeat.signin_attempts.auth_token=" + token,
				"-E", "output.console.enabled=true",
			},
		},
		{file: shortFile},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			work := t.TempDir()
			cfg := filepath.Join(work, tc.file)
			if err := os.WriteFile(cfg, data, 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"test", "config", "-c", cfg, "--path.home", work, "-e"}, tc.extra...)
			cmd := exec.Command(binaryPath, args...)
			// Relative cursor_state_file paths resolve against the working
			// directory: keep the state probes in the temporary directory.
			cmd.Dir = work
			cmd.Env = os.Environ()
			for _, name := range envReferences(data) {
				cmd.Env = append(cmd.Env, name+"="+token)
			}
			out, err := cmd.CombinedOutput()
			text := strings.ReplaceAll(string(out), token, "<token>")
			if err != nil {
				t.Fatalf("eventsapibeat test config -c %s: %v; output:\n%s", tc.file, err, tail(text, 30))
			}
			if !strings.Contains(text, "Config OK") {
				t.Fatalf("eventsapibeat test config -c %s: no \"Config OK\"; output:\n%s", tc.file, tail(text, 30))
			}
			// test config succeeds when one stream can run; with a token
			// for every event type, every enabled stream must.
			if strings.Contains(text, "will not run") {
				t.Fatalf("eventsapibeat test config -c %s: a stream cannot run; output:\n%s", tc.file, tail(text, 30))
			}
		})
	}
}

// envReferences returns the names of the ${VARIABLE}s a file refers to
// (upper-case names only: ${path.home} and the like are libbeat's own).
func envReferences(data []byte) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)(?::[^}]*)?\}`).FindAllSubmatch(data, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// TestReferenceConfigKeyTables checks the tables above against the beat's
// configuration structs, so that a setting added to config.Config or
// config.Stream (or to libbeat's inlined HTTP settings) fails here until it
// is added to a table, and so to TestReferenceConfigDocumentsEverySetting.
func TestReferenceConfigKeyTables(t *testing.T) {
	same := func(what string, table, structs []string) {
		t.Helper()
		for _, k := range structs {
			if !slices.Contains(table, k) {
				t.Errorf("%s setting %q is accepted by the config structs but missing from the test's table (and probably from %s)", what, k, referenceFile)
			}
		}
		for _, k := range table {
			if !slices.Contains(structs, k) {
				t.Errorf("%s setting %q is in the test's table but not accepted by the config structs", what, k)
			}
		}
	}
	same("eventsapibeat", referenceGlobalKeys, append(configKeys(reflect.TypeOf(beatconfig.Config{}), ""), globalKeysReadApart...))
	same("eventsapibeat.<stream>", referenceStreamKeys, append(configKeys(reflect.TypeOf(beatconfig.Stream{}), ""), streamKeysReadApart...))
}

// configKeys lists the dotted setting names a struct unpacks, following
// go-ucfg's tags: config:"-" is skipped, ",inline" merges the field's own
// settings, and a nested struct with tagged fields is a sub-section.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("config")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case slices.Contains(strings.Split(opts, ","), "inline"):
			keys = append(keys, configKeys(ft, prefix)...)
		case name == "":
			// go-ucfg would use the lower-cased field name; the beat's
			// structs always name their settings.
			keys = append(keys, prefix+strings.ToLower(f.Name))
		case ft.Kind() == reflect.Struct && hasConfigTags(ft):
			keys = append(keys, configKeys(ft, prefix+name+".")...)
		default:
			keys = append(keys, prefix+name)
		}
	}
	sort.Strings(keys)
	return keys
}

func hasConfigTags(t reflect.Type) bool {
	for i := 0; i < t.NumField(); i++ {
		if _, ok := t.Field(i).Tag.Lookup("config"); ok {
			return true
		}
	}
	return false
}

// TestReferenceConfigDocumentsEverySetting checks, on the text of the
// reference file (nothing is uncommented), that every setting of the beat is
// shown in the eventsapibeat: section, as "#key:" (or "key:") at its
// nesting level, with the stream defaults of config.DefaultStream.
func TestReferenceConfigDocumentsEverySetting(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", referenceFile))
	if err != nil {
		t.Fatal(err)
	}
	section := beatSection(t, string(data))

	for _, key := range referenceGlobalKeys {
		if !settingLine(1, key).MatchString(section) {
			t.Errorf("%s does not document eventsapibeat.%s (want a line \"  #%s: <default>\" in the eventsapibeat: section)", referenceFile, key, key)
		}
	}
	for _, typ := range all.Types() {
		block := streamBlock(section, typ.ConfigKey)
		if block == "" {
			t.Errorf("%s has no eventsapibeat.%s section (want \"  %s:\" with enabled: false)", referenceFile, typ.ConfigKey, typ.ConfigKey)
			continue
		}
		for _, key := range referenceStreamKeys {
			if !settingLine(2, key).MatchString(block) {
				t.Errorf("%s does not document eventsapibeat.%s.%s (want a line \"    #%s: <default>\" in that stream's section)", referenceFile, typ.ConfigKey, key, key)
			}
		}
		def := beatconfig.DefaultStream(typ.Name)
		for _, want := range []string{
			"#sample_frequency: " + def.SampleFrequency.String() + "\n",
			"#cursor_state_file: \"" + def.CursorStateFile + "\"\n",
		} {
			if !strings.Contains(block, want) {
				t.Errorf("%s: eventsapibeat.%s does not show the default %q", referenceFile, typ.ConfigKey, strings.TrimSpace(want))
			}
		}
	}
}

// beatSection returns the eventsapibeat: section: from its key to the next
// "# ====" section header.
func beatSection(t *testing.T, text string) string {
	t.Helper()
	start := regexp.MustCompile(`(?m)^eventsapibeat:[ \t]*$`).FindStringIndex(text)
	if start == nil {
		t.Fatalf("%s has no top-level eventsapibeat: key", referenceFile)
	}
	rest := text[start[1]:]
	if end := regexp.MustCompile(`(?m)^# =+ `).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

// streamBlock returns a stream's section: from "  <key>:" to the next line
// indented by two spaces (the next section's heading or key), or "".
func streamBlock(section, key string) string {
	loc := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(key) + `:[ \t]*$`).FindStringIndex(section)
	if loc == nil {
		return ""
	}
	rest := section[loc[1]:]
	if end := regexp.MustCompile(`(?m)^  \S`).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	return rest
}

// settingLine matches a setting, commented out or not, at a nesting level
// (two spaces per level).
func settingLine(level int, key string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + strings.Repeat("  ", level) + `#?` + regexp.QuoteMeta(key) + `:`)
}

// TestReferenceConfigShape checks that the reference file, as shipped,
// configures nothing but disabled stream sections.
func TestReferenceConfigShape(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", referenceFile))
	if err != nil {
		t.Fatal(err)
	}
	c, err := conf.NewConfigWithYAML(data, referenceFile)
	if err != nil {
		t.Fatalf("%s is not valid YAML: %v", referenceFile, err)
	}
	var want []string
	for _, typ := range all.Types() {
		key := "eventsapibeat." + typ.ConfigKey + ".enabled"
		want = append(want, key)
		if enabled, err := c.Bool(key, -1); err != nil || enabled {
			t.Errorf("%s: %s = %v (err %v), want false", referenceFile, key, enabled, err)
		}
	}
	got := c.FlattenedKeys()
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s sets %v; everything but the disabled stream sections must be commented out (want %v)", referenceFile, got, want)
	}
}
