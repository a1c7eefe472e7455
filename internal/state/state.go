// Package state persists a stream's position in the Events API: the cursor
// of the last page whose events the output acknowledged.
//
// The file is one line of JSON, written atomically (temp file, fsync,
// rename, fsync of the directory) with mode 0600, so a crash leaves either
// the old or the new cursor, never a mix. It also reads the history files of
// 1Password's eventsapibeat 2.x, whose last line is the request body
// { "cursor": "..." }, so users switching beats continue where they were.
//
// A file that cannot be understood is an error that says how to recover;
// it is never silently replaced by the starting cursor.
package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Format identifies files written by this beat.
const Format = "eventsapibeat/3"

// State is what a stream persists.
type State struct {
	Format string `json:"format,omitempty"`
	// Stream is the event type the cursor belongs to ("signinattempts").
	Stream string `json:"stream,omitempty"`
	// APIVersion is the API version that issued the cursor ("v1", "v2").
	// Empty for files written by eventsapibeat 2.x (which only spoke v1).
	APIVersion string `json:"api_version,omitempty"`
	// Cursor is the opaque API cursor to continue from.
	Cursor string `json:"cursor"`
	// LastEventTime is the timestamp of the newest acknowledged event.
	LastEventTime time.Time `json:"last_event_time,omitzero"`
	// UpdatedAt is when the state was written.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Reset, when set, asks the stream to start again from a time rather
	// than from Cursor (which is then empty). `eventsapibeat cursor reset`
	// writes it; the beat turns it into a ResetCursor at its next start,
	// and the first acknowledged page replaces the whole state.
	Reset *Reset `json:"reset,omitempty"`
	// Backfill is the progress of a parallel backfill; nil when none is in
	// progress. While it is set, Cursor belongs to the tail chain (the one
	// that becomes the live cursor) and may be empty, and the time ranges in
	// Backfill.Pending have not all been acknowledged yet.
	Backfill *Backfill `json:"backfill,omitempty"`
	// Replay marks a state written by a replay (replay_dir): its cursor
	// comes from a recording, so a run against the API must not continue
	// from it, and a replay must not continue any other state. Absent in
	// every file written before it existed, which are therefore not
	// replay states.
	Replay bool `json:"replay,omitempty"`
}

// Reset is a pending restart of a stream from a point in time.
type Reset struct {
	StartTime time.Time `json:"start_time"`
	// Limit is the page size to ask for; 0 leaves it to the beat.
	Limit int `json:"limit,omitempty"`
}

// Backfill is what a stream must remember to finish a parallel time-sliced
// backfill after a restart without a gap: every time slice whose events are
// not all acknowledged, with the cursor of its last acknowledged page.
type Backfill struct {
	// TailStart is the start_time of the tail chain, which reads from the
	// end of the slices onwards and becomes the live cursor (Cursor).
	TailStart time.Time `json:"tail_start"`
	// Pending are the slices not yet completely acknowledged.
	Pending []Slice `json:"pending"`
}

// Slice is one time slice of a backfill: ResetCursor start_time and
// end_time, and the cursor of its last acknowledged page (empty: start
// over from start_time).
type Slice struct {
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Cursor string    `json:"cursor,omitempty"`
}

// Legacy reports whether the state came from an eventsapibeat 2.x file.
func (s State) Legacy() bool { return s.Format == "" }

// ErrNotExist is returned by Load when there is no state yet.
var ErrNotExist = errors.New("no state file")

// CorruptError says a state file exists but cannot be used.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is unusable: %s; to start again from a time, run `eventsapibeat cursor reset` for this stream (it keeps the file as .bak), or move the file away (keep it for support) and restart to start from starting_cursor", e.Path, e.Reason)
}

// maxFileSize bounds what Load reads: 2.x history files roll at 200 kB.
const maxFileSize = 4 << 20

// Load reads the state at path. It returns ErrNotExist when the file does not
// exist, and a *CorruptError when it exists but holds no usable cursor.
// An empty file is what eventsapibeat 2.x leaves when it never got a cursor
// (it created the file at start); it also means "no state yet".
func Load(path string) (State, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, ErrNotExist
	}
	if err != nil {
		return State{}, fmt.Errorf("reading state file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return State{}, fmt.Errorf("reading state file: %w", err)
	}
	if info.IsDir() {
		return State{}, &CorruptError{Path: path, Reason: "it is a directory"}
	}
	if info.Size() > maxFileSize {
		return State{}, &CorruptError{Path: path, Reason: fmt.Sprintf("it is %d bytes, more than a state file can be", info.Size())}
	}
	data := make([]byte, info.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return State{}, fmt.Errorf("reading state file %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse decodes the content of a state file; path is only used in errors.
func Parse(path string, data []byte) (State, error) {
	line := lastLine(data)
	if len(line) == 0 {
		return State{}, ErrNotExist
	}
	if !json.Valid(line) {
		return State{}, &CorruptError{Path: path, Reason: "its last line is not valid JSON (truncated or edited?)"}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		return State{}, &CorruptError{Path: path, Reason: "its last line is not a JSON object"}
	}
	var s State
	if err := json.Unmarshal(line, &s); err != nil {
		return State{}, &CorruptError{Path: path, Reason: "a field has the wrong type: " + oneLine(err.Error())}
	}
	if _, ok := raw["cursor"]; !ok {
		return State{}, &CorruptError{Path: path, Reason: `its last line has no "cursor"`}
	}
	if s.Format != "" && s.Format != Format {
		return State{}, &CorruptError{Path: path, Reason: fmt.Sprintf("it was written in format %q, which this version does not read", s.Format)}
	}
	if b := s.Backfill; b != nil {
		if b.TailStart.IsZero() {
			return State{}, &CorruptError{Path: path, Reason: "its backfill has no tail_start"}
		}
		for i, sl := range b.Pending {
			if sl.Start.IsZero() || sl.End.Before(sl.Start) {
				return State{}, &CorruptError{Path: path, Reason: fmt.Sprintf("backfill slice %d has an invalid time range", i)}
			}
		}
		// The tail chain's cursor is empty until its first page is
		// acknowledged.
		return s, nil
	}
	if s.Reset != nil {
		if s.Reset.StartTime.IsZero() {
			return State{}, &CorruptError{Path: path, Reason: "its reset has no start_time"}
		}
		if s.Reset.Limit < 0 {
			return State{}, &CorruptError{Path: path, Reason: "its reset has a negative limit"}
		}
		return s, nil
	}
	if strings.TrimSpace(s.Cursor) == "" {
		return State{}, &CorruptError{Path: path, Reason: "its cursor is empty"}
	}
	return s, nil
}

// lastLine returns the last non-blank line of data, trimmed.
func lastLine(data []byte) []byte {
	data = bytes.TrimRight(data, " \t\r\n")
	if i := bytes.LastIndexAny(data, "\r\n"); i >= 0 {
		data = data[i+1:]
	}
	return bytes.TrimSpace(data)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// Save writes s to path atomically with mode 0600.
func Save(path string, s State) error {
	s.Format = Format
	line, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	return WriteFileAtomic(path, append(line, '\n'))
}

// BackupSuffix is appended to a state file's name for the copy that
// Replace keeps of the state it replaces.
const BackupSuffix = ".bak"

// Replace saves s to path like Save, after copying the file it replaces (if
// any) verbatim to path+BackupSuffix, also atomically. It returns the path
// of the backup that holds the state to go back to, or "" when there was
// nothing to back up. If the backup cannot be written, the state is left as
// it was.
//
// A file that holds only a pending reset (the beat has read nothing since a
// `cursor reset`) does not replace an existing backup: that backup holds the
// last real position, and a second reset or a set after a reset must not
// lose it (see KeepsBackup).
func Replace(path string, s State) (backup string, err error) {
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("reading state file %s to back it up: %w", path, err)
	case keepsBackup(path, old):
		backup = path + BackupSuffix
	default:
		backup = path + BackupSuffix
		if err := WriteFileAtomic(backup, old); err != nil {
			return "", fmt.Errorf("backing up state file %s: %w", path, err)
		}
	}
	if err := Save(path, s); err != nil {
		return "", err
	}
	return backup, nil
}

// KeepsBackup reports whether Replace(path, …) leaves the existing backup
// as it is, because the file at path holds only a pending reset and a
// backup of the state before it exists.
func KeepsBackup(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && keepsBackup(path, data)
}

func keepsBackup(path string, current []byte) bool {
	s, err := Parse(path, current)
	if err != nil || s.Reset == nil || s.Backfill != nil || strings.TrimSpace(s.Cursor) != "" {
		return false
	}
	info, err := os.Stat(path + BackupSuffix)
	return err == nil && info.Mode().IsRegular()
}

// WriteFileAtomic replaces path with data: a crash at any point leaves
// either the old file or the new one.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing state file %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing state file %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing state file %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is synced.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	removeStaleTemps(path)
	return nil
}

// removeStaleTemps deletes temp files a crash between write and rename left
// behind; they never hold the current state, the renamed file does.
func removeStaleTemps(path string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*"))
	for _, m := range matches {
		_ = os.Remove(m)
	}
}

// CheckWritable verifies at start that the state at path can be written:
// the directory exists and accepts a new file. It writes nothing lasting.
func CheckWritable(path string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory of state file %s: %w", path, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("directory of state file %s: %s is not a directory", path, dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".probe-*")
	if err != nil {
		return fmt.Errorf("state file %s is not writable: %w", path, err)
	}
	name := tmp.Name()
	tmp.Close()
	return os.Remove(name)
}
