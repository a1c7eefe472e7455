package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

var testNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestParseStartTime(t *testing.T) {
	cases := []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "2026-11-01T10:00:00Z", want: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-01T10:00:00+02:00", want: time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)},
		{in: "2026-11-01", want: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{in: "72h", want: testNow.Add(-72 * time.Hour)},
		{in: "90m", want: testNow.Add(-90 * time.Minute)},
		{in: "7d", want: testNow.Add(-7 * 24 * time.Hour)},
		{in: " 0s ", want: testNow},
		{in: "", wantErr: "required"},
		{in: "yesterday", wantErr: "neither"},
		{in: "-5h", wantErr: "neither"},
		{in: "-2d", wantErr: "neither"},
		{in: "2026-13-01", wantErr: "neither"},
		{in: "3650d", want: testNow.Add(-3650 * 24 * time.Hour)},
		// Beyond 106751 days time.Duration overflows and the result
		// lands in the future; a huge span is refused up front.
		{in: "3651d", wantErr: "more than 3650 days"},
		{in: "106752d", wantErr: "more than 3650 days"},
		{in: "99999999999d", wantErr: "more than 3650 days"},
		{in: "87601h", wantErr: "more than 3650 days"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseStartTime(tc.in, testNow)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("= %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func writeState(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		name    string
		content *string
		check   func(t *testing.T, st cursorStatus)
	}{
		{"no state file", nil, func(t *testing.T, st cursorStatus) {
			if st.CursorPresent || st.Problem != "" || st.ResetFrom != nil {
				t.Fatalf("%+v", st)
			}
		}},
		{"this beat's state", ptr(`{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"c","last_event_time":"2026-12-01T10:00:00Z","updated_at":"2026-12-03T11:00:00Z"}`), func(t *testing.T, st cursorStatus) {
			if !st.CursorPresent || st.APIVersion != "v2" || st.Legacy || fmtTime(st.LastEventTime) != "2026-12-01T10:00:00Z" || fmtTime(st.LastCommit) != "2026-12-03T11:00:00Z" {
				t.Fatalf("%+v", st)
			}
		}},
		{"2.x history", ptr("{ \"cursor\": \"a\" }\n{ \"cursor\": \"b\" }\n"), func(t *testing.T, st cursorStatus) {
			if !st.CursorPresent || !st.Legacy || st.APIVersion != "v1" || st.LastEventTime != nil {
				t.Fatalf("%+v", st)
			}
		}},
		{"reset pending", ptr(`{"format":"eventsapibeat/3","stream":"itemusages","cursor":"","reset":{"start_time":"2026-11-01T00:00:00Z"}}`), func(t *testing.T, st cursorStatus) {
			if st.CursorPresent || fmtTime(st.ResetFrom) != "2026-11-01T00:00:00Z" {
				t.Fatalf("%+v", st)
			}
		}},
		{"corrupt", ptr(`{"cursor": "tru`), func(t *testing.T, st cursorStatus) {
			if st.Problem == "" || !strings.Contains(st.Problem, "cursor reset") {
				t.Fatalf("%+v", st)
			}
		}},
		{"another stream's", ptr(`{"format":"eventsapibeat/3","stream":"auditevents","cursor":"x"}`), func(t *testing.T, st cursorStatus) {
			if !strings.Contains(st.Problem, "auditevents") {
				t.Fatalf("%+v", st)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.state")
			if tc.content != nil {
				writeState(t, path, *tc.content)
			}
			before, _ := os.ReadFile(path)
			st := statusOf(cursorTarget{Key: "item_usages", EventType: "itemusages", StatePath: path})
			tc.check(t, st)
			var text bytes.Buffer
			writeStatus(&text, st, testNow)
			if !strings.Contains(text.String(), path) {
				t.Errorf("the text does not name the state file:\n%s", text.String())
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("show changed the state file")
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestResetAndSetChanges(t *testing.T) {
	target := cursorTarget{Key: "item_usages", EventType: "itemusages"}
	pinned := cursorTarget{Key: "item_usages", EventType: "itemusages", APIVersion: "v1"}
	cases := []struct {
		name    string
		make    func() (change, error)
		wantErr string
		check   func(t *testing.T, s state.State)
	}{
		{"reset", func() (change, error) {
			ch, _, err := resetChange(target, testNow.Add(-time.Hour), 0, testNow)
			return ch, err
		}, "", func(t *testing.T, s state.State) {
			if s.Reset == nil || !s.Reset.StartTime.Equal(testNow.Add(-time.Hour)) || s.Cursor != "" || s.Stream != "itemusages" {
				t.Fatalf("%+v", s)
			}
		}},
		{"reset with a limit", func() (change, error) {
			ch, _, err := resetChange(target, testNow.Add(-time.Hour), 250, testNow)
			return ch, err
		}, "", func(t *testing.T, s state.State) {
			if s.Reset.Limit != 250 {
				t.Fatalf("%+v", s.Reset)
			}
		}},
		{"reset in the future", func() (change, error) {
			ch, _, err := resetChange(target, testNow.Add(time.Hour), 0, testNow)
			return ch, err
		}, "in the future", nil},
		{"reset with a bad limit", func() (change, error) {
			ch, _, err := resetChange(target, testNow, 5000, testNow)
			return ch, err
		}, "--limit", nil},
		{"set, version by default", func() (change, error) { return setChange(target, "CURSOR1", "", testNow) }, "", func(t *testing.T, s state.State) {
			if s.Cursor != "CURSOR1" || s.APIVersion != "v2" || s.Reset != nil {
				t.Fatalf("%+v", s)
			}
		}},
		{"set follows the stream's api_version", func() (change, error) { return setChange(pinned, "C", "", testNow) }, "", func(t *testing.T, s state.State) {
			if s.APIVersion != "v1" {
				t.Fatalf("%+v", s)
			}
		}},
		{"set against the stream's api_version", func() (change, error) { return setChange(pinned, "C", "v2", testNow) }, "differs", nil},
		{"set with a bad version", func() (change, error) { return setChange(target, "C", "v3", testNow) }, "--api-version", nil},
		{"set without a cursor", func() (change, error) { return setChange(target, " ", "", testNow) }, "--cursor is required", nil},
		{"set with a quoted cursor", func() (change, error) { return setChange(target, `"C"`, "", testNow) }, "bare cursor", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := tc.make()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, ch.next)
		})
	}
	_, notes, err := resetChange(target, testNow.Add(-200*24*time.Hour), 0, testNow)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "120 days") || !strings.Contains(notes[0], "may refuse or clamp") {
		t.Fatalf("a reset beyond the API's window: notes %q, %v", notes, err)
	}
	// The beat indexes with op_type create: Elasticsearch keeps the first
	// copy of a re-sent event and answers 409, it does not overwrite it.
	ch, _, err := resetChange(target, testNow.Add(-time.Hour), 0, testNow)
	if err != nil || strings.Contains(ch.what, "overwrite") || !strings.Contains(ch.what, "409") || !strings.Contains(ch.what, "keeps the first copy") {
		t.Fatalf("the reset confirmation misdescribes re-sent events: %q, %v", ch.what, err)
	}
}

// TestApply: a change is written only when confirmed, atomically, with the
// replaced file kept as .bak; the result is a state the beat loads.
func TestApply(t *testing.T) {
	const old = `{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"OLD"}`
	cases := []struct {
		name    string
		yes     bool
		input   string
		wantErr string
		changed bool
	}{
		{name: "--yes", yes: true, changed: true},
		{name: "answered y", input: "y\n", changed: true},
		{name: "answered YES", input: "YES\n", changed: true},
		{name: "answered n", input: "n\n", wantErr: "not confirmed"},
		{name: "empty answer", input: "\n", wantErr: "not confirmed"},
		{name: "no input", input: "", wantErr: "pass --yes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.state")
			writeState(t, path, old)
			target := cursorTarget{Key: "item_usages", EventType: "itemusages", StatePath: path}
			ch, err := setChange(target, "NEW", "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = apply(ch, tc.yes, strings.NewReader(tc.input), &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			_, bakErr := os.Stat(path + state.BackupSuffix)
			if !tc.changed {
				if string(got) != old || bakErr == nil {
					t.Fatalf("state changed (or a backup written) without confirmation: %q", got)
				}
				return
			}
			st, err := state.Load(path)
			if err != nil || st.Cursor != "NEW" {
				t.Fatalf("state after apply = %+v, %v", st, err)
			}
			if bak, _ := os.ReadFile(path + state.BackupSuffix); string(bak) != old {
				t.Fatalf("backup = %q, want the old state", bak)
			}
			if !strings.Contains(out.String(), "cursor present") || !strings.Contains(out.String(), ".bak") {
				t.Errorf("the confirmation does not show the current state and the backup:\n%s", out.String())
			}
		})
	}
}

// TestApplyTwiceKeepsTheOriginalBackup: two resets in a row say that the
// .bak keeps the state from before the first, and it does.
func TestApplyTwiceKeepsTheOriginalBackup(t *testing.T) {
	const old = `{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"OLD"}`
	path := filepath.Join(t.TempDir(), "s.state")
	writeState(t, path, old)
	target := cursorTarget{Key: "item_usages", EventType: "itemusages", StatePath: path}
	var out bytes.Buffer
	for _, from := range []time.Time{testNow.Add(-48 * time.Hour), testNow.Add(-24 * time.Hour)} {
		out.Reset()
		ch, _, err := resetChange(target, from, 0, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := apply(ch, true, strings.NewReader(""), &out); err != nil {
			t.Fatal(err)
		}
	}
	if bak, _ := os.ReadFile(path + state.BackupSuffix); string(bak) != old {
		t.Fatalf("after two resets the backup is %q, want the original state", bak)
	}
	if !strings.Contains(out.String(), "keeps the state from before that reset") || !strings.Contains(out.String(), "To undo, stop the beat and move "+path+state.BackupSuffix) {
		t.Fatalf("the second reset does not say where the original state is:\n%s", out.String())
	}
}

// TestApplyWarnsAboutPendingBackfill: replacing a state that still has
// backfill slices pending says that they are dropped.
func TestApplyWarnsAboutPendingBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.state")
	writeState(t, path, `{"format":"eventsapibeat/3","stream":"itemusages","api_version":"v2","cursor":"TAIL","backfill":{"tail_start":"2026-12-01T00:00:00Z","pending":[{"start":"2026-11-01T00:00:00Z","end":"2026-11-15T00:00:00Z","cursor":"S1"},{"start":"2026-11-15T00:00:00Z","end":"2026-12-01T00:00:00Z"}]}}`)
	target := cursorTarget{Key: "item_usages", EventType: "itemusages", StatePath: path}
	ch, _, err := resetChange(target, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := apply(ch, true, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "2 parallel backfill time slice(s) are still pending") {
		t.Fatalf("no note about the pending slices:\n%s", out.String())
	}
	st, err := state.Load(path)
	if err != nil || st.Backfill != nil || st.Reset == nil {
		t.Fatalf("state after the reset = %+v, %v; want the reset and no backfill", st, err)
	}
}
