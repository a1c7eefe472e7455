package state

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stream.state")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	cases := []struct {
		name       string
		content    string
		wantCursor string
		wantLegacy bool
		wantReplay bool
		wantErr    error  // ErrNotExist, or nil
		corrupt    string // substring of a CorruptError's reason
	}{
		{
			name:       "eventsapibeat 2.x history, last line wins",
			content:    "{ \"cursor\": \"first\" }\n{ \"cursor\": \"second\" }\n{ \"cursor\": \"aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK\" }\n",
			wantCursor: "aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK",
			wantLegacy: true,
		},
		{name: "2.x history with CRLF and trailing blank lines", content: "{ \"cursor\": \"a\" }\r\n{ \"cursor\": \"b\" }\r\n\r\n\n", wantCursor: "b", wantLegacy: true},
		{name: "2.x single line without newline", content: `{ "cursor": "only" }`, wantCursor: "only", wantLegacy: true},
		{name: "2.x file created but never written", content: "", wantErr: ErrNotExist},
		{name: "whitespace only", content: " \n\n", wantErr: ErrNotExist},
		{
			name:       "this beat's format",
			content:    `{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"c2","last_event_time":"2026-11-01T10:00:00Z"}` + "\n",
			wantCursor: "c2",
		},
		{name: "last line truncated by a crash of 2.x", content: "{ \"cursor\": \"a\" }\n{ \"cursor\": \"b", corrupt: "not valid JSON"},
		{name: "garbage", content: "\x00\x01binary", corrupt: "not valid JSON"},
		{name: "a JSON array", content: `["cursor"]`, corrupt: "not a JSON object"},
		{name: "no cursor key", content: `{ "limit": 1000, "start_time": "2020-01-01T00:00:00Z" }`, corrupt: `no "cursor"`},
		{name: "empty cursor", content: `{ "cursor": "" }`, corrupt: "cursor is empty"},
		{name: "cursor of the wrong type", content: `{ "cursor": 42 }`, corrupt: "wrong type"},
		{name: "future format", content: `{"format":"eventsapibeat/9","cursor":"x"}`, corrupt: "format"},
		{name: "reset pending", content: `{"format":"eventsapibeat/3","stream":"itemusages","cursor":"","reset":{"start_time":"2026-01-01T00:00:00Z","limit":500}}`, wantCursor: ""},
		{name: "reset without start_time", content: `{"format":"eventsapibeat/3","cursor":"","reset":{}}`, corrupt: "no start_time"},
		{name: "reset with a negative limit", content: `{"format":"eventsapibeat/3","cursor":"","reset":{"start_time":"2026-01-01T00:00:00Z","limit":-1}}`, corrupt: "negative limit"},
		{name: "reset of the wrong type", content: `{"format":"eventsapibeat/3","cursor":"","reset":"now"}`, corrupt: "wrong type"},
		{name: "written by a replay", content: `{"format":"eventsapibeat/3","stream":"itemusages","cursor":"c3","replay":true}`, wantCursor: "c3", wantReplay: true},
		{name: "replay of the wrong type", content: `{"format":"eventsapibeat/3","cursor":"c","replay":"yes"}`, corrupt: "wrong type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, tc.content)
			st, err := Load(path)
			switch {
			case tc.corrupt != "":
				var ce *CorruptError
				if !errors.As(err, &ce) || !strings.Contains(ce.Reason, tc.corrupt) {
					t.Fatalf("err = %v, want CorruptError with %q", err, tc.corrupt)
				}
				msg := err.Error()
				if !strings.Contains(msg, path) || !strings.Contains(msg, "move the file away") || strings.Contains(msg, "\n") {
					t.Errorf("error must be one line naming the file and the way out: %q", msg)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if st.Cursor != tc.wantCursor || st.Legacy() != tc.wantLegacy || st.Replay != tc.wantReplay {
					t.Fatalf("state = %+v legacy=%v, want cursor %q legacy=%v replay=%v", st, st.Legacy(), tc.wantCursor, tc.wantLegacy, tc.wantReplay)
				}
			}
		})
	}
}

func TestLoadMissingAndDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none")); !errors.Is(err, ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
	var ce *CorruptError
	if _, err := Load(dir); !errors.As(err, &ce) {
		t.Fatalf("directory: err = %v, want CorruptError", err)
	}
}

func TestSaveRoundTripReplacesLegacyHistory(t *testing.T) {
	path := write(t, "{ \"cursor\": \"old1\" }\n{ \"cursor\": \"old2\" }\n")
	want := State{Stream: "auditevents", APIVersion: "v2", Cursor: "new", LastEventTime: time.Date(2026, 11, 1, 1, 2, 3, 4, time.UTC), UpdatedAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want.Format = Format
	if got != want {
		t.Fatalf("round trip: got %+v, want %+v", got, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "\n") != 1 {
		t.Errorf("state file must be a single line, got %q", data)
	}
	// Only replay states carry the mark, so older readers see no new key.
	if strings.Contains(string(data), "replay") {
		t.Errorf("a production state holds the replay mark: %s", data)
	}
	want.Replay = true
	if err := Save(path, want); err != nil {
		t.Fatal(err)
	}
	if got, err = Load(path); err != nil || got != want {
		t.Fatalf("replay round trip: got %+v (%v), want %+v", got, err, want)
	}
}

// A crash between writing the temp file and renaming it leaves the temp
// file beside the old state: Load must still give the old cursor, and the
// next Save must succeed and clean up.
func TestCrashBetweenWriteAndRenameKeepsOldCursor(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.state")
	if err := Save(path, State{Cursor: "committed"}); err != nil {
		t.Fatal(err)
	}
	leftover := filepath.Join(dir, ".s.state.tmp-123456")
	if err := os.WriteFile(leftover, []byte(`{"format":"eventsapibeat/3","cursor":"never-renamed"`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Load(path)
	if err != nil || st.Cursor != "committed" {
		t.Fatalf("after crash: state %+v err %v, want the old cursor", st, err)
	}
	if err := Save(path, State{Cursor: "next"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file not removed: %v", err)
	}
}

// TestKillDuringSaves kills a process that saves in a tight loop at an
// arbitrary moment, several times: the file must always hold a whole cursor
// at least as new as the last save the process reported.
func TestKillDuringSaves(t *testing.T) {
	if os.Getenv("STATE_SAVE_LOOP") != "" {
		saveLoop(os.Getenv("STATE_SAVE_LOOP"))
		return
	}
	path := filepath.Join(t.TempDir(), "kill.state")
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringSaves$")
		cmd.Env = append(os.Environ(), "STATE_SAVE_LOOP="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		reported := 0
		for lines.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "saved ")); err == nil {
				reported = n
				if n >= 50*(round+1) {
					break
				}
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		st, err := Load(path)
		if err != nil {
			t.Fatalf("round %d: state unreadable after kill: %v", round, err)
		}
		got, err := strconv.Atoi(strings.TrimPrefix(st.Cursor, "c-"))
		if err != nil || got < reported {
			t.Fatalf("round %d: cursor %q after the process reported save %d", round, st.Cursor, reported)
		}
	}
}

func saveLoop(path string) {
	start := 0
	if st, err := Load(path); err == nil {
		start, _ = strconv.Atoi(strings.TrimPrefix(st.Cursor, "c-"))
	}
	for i := start + 1; ; i++ {
		if err := Save(path, State{Stream: "itemusages", Cursor: fmt.Sprintf("c-%d", i)}); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Printf("saved %d\n", i)
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "ok.state")); err != nil {
		t.Fatalf("writable dir: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("CheckWritable left files behind: %v", entries)
	}
	if err := CheckWritable(filepath.Join(dir, "missing", "x.state")); err == nil {
		t.Error("missing directory: want an error")
	}
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckWritable(filepath.Join(file, "x.state")); err == nil {
		t.Error("parent is a file: want an error")
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"{ \"cursor\": \"a\" }\n",
		`{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"c2","last_event_time":"2026-11-01T10:00:00Z"}`,
		"{ \"cursor\": \"a\" }\n{ \"cursor\": \"b",
		"", "\r\n", `{"cursor":null}`, `{"cursor":"x","last_event_time":"yesterday"}`,
		`{"format":"eventsapibeat/3","cursor":"","reset":{"start_time":"2026-01-01T00:00:00Z","limit":10}}`,
		`{"cursor":"","reset":{}}`, `{"cursor":"","reset":null}`,
		`{"format":"eventsapibeat/3","stream":"itemusages","cursor":"c","replay":true}`, `{"cursor":"c","replay":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse("fuzz.state", data)
		if err != nil {
			var ce *CorruptError
			if !errors.Is(err, ErrNotExist) && !errors.As(err, &ce) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		// A state either continues from a cursor or restarts from a time.
		if st.Reset != nil {
			if st.Reset.StartTime.IsZero() || st.Reset.Limit < 0 {
				t.Fatalf("accepted an unusable reset: %+v", st.Reset)
			}
			return
		}
		if strings.TrimSpace(st.Cursor) == "" {
			t.Fatalf("accepted a state without cursor: %+v", st)
		}
	})
}

func TestReplaceKeepsABackup(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name       string
		old        *string // nil: no file before
		backupDir  bool    // make the .bak path a directory so the backup fails
		wantBackup bool
		wantErr    bool
	}{
		{name: "no state yet", old: nil},
		{name: "2.x history is copied verbatim", old: ptr("{ \"cursor\": \"a\" }\n{ \"cursor\": \"b\" }\n"), wantBackup: true},
		{name: "a corrupt file is kept", old: ptr(`{"cursor": "tru`), wantBackup: true},
		{name: "backup impossible: state untouched", old: ptr(`{"cursor":"keep"}`), backupDir: true, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.state")
			if tc.old != nil {
				if err := os.WriteFile(path, []byte(*tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.backupDir {
				if err := os.MkdirAll(filepath.Join(path+BackupSuffix, "x"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			next := State{Stream: "itemusages", Reset: &Reset{StartTime: start, Limit: 100}}
			backup, err := Replace(path, next)
			if tc.wantErr {
				if err == nil {
					t.Fatal("Replace succeeded")
				}
				if got, _ := os.ReadFile(path); string(got) != *tc.old {
					t.Fatalf("state changed to %q after a failed backup", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantBackup {
				got, err := os.ReadFile(backup)
				if err != nil || string(got) != *tc.old || backup != path+BackupSuffix {
					t.Fatalf("backup %s = %q, %v; want the old content", backup, got, err)
				}
			} else if backup != "" {
				t.Fatalf("backup %q of nothing", backup)
			}
			st, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Reset == nil || !st.Reset.StartTime.Equal(start) || st.Reset.Limit != 100 || st.Cursor != "" || st.Stream != "itemusages" || st.Format != Format {
				t.Fatalf("state after Replace = %+v", st)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestReplaceKeepsTheLastRealPosition: a file that holds only a pending
// reset does not replace the backup, so after reset+reset or reset+set the
// .bak still holds the cursor from before the first reset, and moving it
// back undoes them all.
func TestReplaceKeepsTheLastRealPosition(t *testing.T) {
	const original = `{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"ORIGINAL"}` + "\n"
	reset := State{Stream: "itemusages", Reset: &Reset{StartTime: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}}
	set := State{Stream: "itemusages", APIVersion: "v2", Cursor: "GIVEN"}
	cases := []struct {
		name       string
		changes    []State
		wantBackup string // "" means the original
	}{
		{"reset twice", []State{reset, reset}, ""},
		{"reset three times", []State{reset, reset, reset}, ""},
		{"reset then set", []State{reset, set}, ""},
		{"set then reset: the set cursor is a real position", []State{set, reset}, "GIVEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.state")
			if err := os.WriteFile(path, []byte(original), 0o600); err != nil {
				t.Fatal(err)
			}
			var backup string
			for i, next := range tc.changes {
				var err error
				if backup, err = Replace(path, next); err != nil {
					t.Fatalf("change %d: %v", i, err)
				}
			}
			if backup != path+BackupSuffix {
				t.Fatalf("backup = %q", backup)
			}
			b, err := Load(backup)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantBackup
			if want == "" {
				want = "ORIGINAL"
			}
			if b.Cursor != want {
				t.Fatalf("the backup holds %+v, want cursor %s", b, want)
			}
		})
	}

	// A pending reset without a backup beside it is backed up as usual.
	path := filepath.Join(t.TempDir(), "s.state")
	if err := Save(path, reset); err != nil {
		t.Fatal(err)
	}
	if KeepsBackup(path) {
		t.Fatal("KeepsBackup without a backup")
	}
	if backup, err := Replace(path, set); err != nil || backup == "" {
		t.Fatalf("backup %q, %v", backup, err)
	}
	if b, err := Load(path + BackupSuffix); err != nil || b.Reset == nil {
		t.Fatalf("the backup holds %+v, %v; want the pending reset", b, err)
	}
}
