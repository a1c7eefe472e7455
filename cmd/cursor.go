package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/beats/v7/libbeat/cmd/instance"
	"github.com/spf13/cobra"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/config"
	"github.com/eventsapibeat/eventsapibeat/internal/eventsapi"
	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

// dataWindow is how far back the Events API keeps events.
const dataWindow = 120 * 24 * time.Hour

// cursorTarget is a stream whose stored position a cursor command reads or
// changes.
type cursorTarget struct {
	Key       string // item_usages
	EventType string // itemusages
	Enabled   bool
	StatePath string // absolute
	// APIVersion is the configured version ("" when left to the default).
	APIVersion string
}

func targetOf(cfg config.Config, ref streamRef) (cursorTarget, error) {
	path, err := beater.StatePath(ref.stream)
	if err != nil {
		return cursorTarget{}, err
	}
	version := ""
	if v, explicit := cfg.StreamAPIVersion(ref.stream); explicit {
		version = v
	}
	return cursorTarget{Key: ref.stream.Key, EventType: ref.typ.Name, Enabled: ref.stream.Enabled, StatePath: path, APIVersion: version}, nil
}

// cursorStatus is what `cursor show` reports for a stream (also as JSON).
type cursorStatus struct {
	Stream        string     `json:"stream"`
	EventType     string     `json:"event_type"`
	Enabled       bool       `json:"enabled"`
	StateFile     string     `json:"state_file"`
	CursorPresent bool       `json:"cursor_present"`
	Legacy        bool       `json:"legacy_2x,omitempty"`
	APIVersion    string     `json:"api_version,omitempty"`
	LastEventTime *time.Time `json:"last_event_time,omitempty"`
	LastCommit    *time.Time `json:"last_commit_time,omitempty"`
	ResetFrom     *time.Time `json:"reset_start_time,omitempty"`
	// BackfillPending is the number of time slices of a parallel backfill
	// not yet acknowledged (last_event_time is then the time up to which
	// every event is).
	BackfillPending int    `json:"backfill_slices_pending,omitempty"`
	Backup          string `json:"backup_file,omitempty"`
	Problem         string `json:"problem,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// statusOf reads a stream's state file. It never changes anything.
func statusOf(t cursorTarget) cursorStatus {
	st := cursorStatus{Stream: t.Key, EventType: t.EventType, Enabled: t.Enabled, StateFile: t.StatePath}
	if _, err := os.Stat(t.StatePath + state.BackupSuffix); err == nil {
		st.Backup = t.StatePath + state.BackupSuffix
	}
	s, err := beater.LoadState(t.StatePath, t.EventType)
	switch {
	case err != nil:
		st.Problem = err.Error()
	case s == nil:
	case s.Reset != nil:
		st.ResetFrom = optTime(s.Reset.StartTime)
		st.LastCommit = optTime(s.UpdatedAt)
	default:
		st.CursorPresent = true
		st.Legacy = s.Legacy()
		st.APIVersion = s.APIVersion
		if st.Legacy && st.APIVersion == "" {
			st.APIVersion = "v1"
		}
		st.LastEventTime = optTime(s.LastEventTime)
		st.LastCommit = optTime(s.UpdatedAt)
		if s.Backfill != nil {
			st.BackfillPending = len(s.Backfill.Pending)
		}
	}
	return st
}

// describe is a one-line summary of a status, for prompts.
func (st cursorStatus) describe() string {
	switch {
	case st.Problem != "":
		return "unusable state file"
	case st.ResetFrom != nil:
		return "a reset to " + fmtTime(st.ResetFrom) + " is pending"
	case !st.CursorPresent:
		return "no cursor yet (the stream starts from starting_cursor)"
	default:
		return fmt.Sprintf("cursor present (API %s, last event %s, last commit %s)", st.APIVersion, fmtTime(st.LastEventTime), fmtTime(st.LastCommit))
	}
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "unknown"
	}
	return t.UTC().Format(time.RFC3339)
}

// writeStatus prints a status for people.
func writeStatus(w io.Writer, st cursorStatus, now time.Time) {
	enabled := "enabled"
	if !st.Enabled {
		enabled = "disabled"
	}
	fmt.Fprintf(w, "%s (%s, %s)\n", st.Stream, st.EventType, enabled)
	fmt.Fprintf(w, "  state file:   %s\n", st.StateFile)
	switch {
	case st.Problem != "":
		fmt.Fprintf(w, "  cursor:       UNUSABLE: %s\n", st.Problem)
	case st.ResetFrom != nil:
		fmt.Fprintf(w, "  cursor:       none; reset pending: the stream starts again from %s at its next start\n", fmtTime(st.ResetFrom))
		fmt.Fprintf(w, "  reset set:    %s\n", fmtTime(st.LastCommit))
	case !st.CursorPresent:
		fmt.Fprintf(w, "  cursor:       none yet; the stream starts from starting_cursor\n")
	default:
		legacy := ""
		if st.Legacy {
			legacy = ", eventsapibeat 2.x file"
		}
		fmt.Fprintf(w, "  cursor:       present (API %s%s)\n", st.APIVersion, legacy)
		fmt.Fprintf(w, "  last event:   %s%s\n", fmtTime(st.LastEventTime), ago(st.LastEventTime, now))
		fmt.Fprintf(w, "  last commit:  %s%s\n", fmtTime(st.LastCommit), ago(st.LastCommit, now))
		if st.BackfillPending > 0 {
			fmt.Fprintf(w, "  backfill:     %d time slice(s) pending; the stream resumes each from its own cursor\n", st.BackfillPending)
		}
	}
	if st.Backup != "" {
		fmt.Fprintf(w, "  backup:       %s (the state before the last cursor reset or set; after resets in a row, the state before the first)\n", st.Backup)
	}
}

func ago(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := now.Sub(*t)
	if d < 0 {
		return " (in the future: check the clock)"
	}
	return " (" + humanDuration(d) + " ago)"
}

// humanDuration prints d coarsely: days, hours, minutes or seconds.
func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	case d >= 2*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " hours"
	case d >= 2*time.Minute:
		return strconv.Itoa(int(d/time.Minute)) + " minutes"
	default:
		return d.Round(time.Second).String()
	}
}

// maxStartDays bounds a --start-time given as a span back from now (ten
// years, far beyond the API's 120 days), so that a mistyped number is
// refused instead of overflowing time.Duration.
const maxStartDays = 3650

// parseStartTime reads --start-time: an RFC 3339 time, a date (midnight
// UTC), or a duration back from now such as 72h or 7d.
func parseStartTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("--start-time is required, e.g. 2026-01-02T15:04:05Z, 2026-01-02 or 72h (ago)")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			if n > maxStartDays {
				return time.Time{}, fmt.Errorf("--start-time %q goes back more than %d days; the Events API keeps 120 days, so give a date or fewer days", s, maxStartDays)
			}
			return now.Add(-time.Duration(n) * 24 * time.Hour).UTC().Truncate(time.Second), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		if d > maxStartDays*24*time.Hour {
			return time.Time{}, fmt.Errorf("--start-time %q goes back more than %d days; the Events API keeps 120 days, so give a date or a shorter span", s, maxStartDays)
		}
		return now.Add(-d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--start-time %q is neither an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) nor a duration back from now (72h, 7d)", s)
}

// change is a state replacement a cursor command proposes.
type change struct {
	target cursorTarget
	next   state.State
	// what says what the change does, for the confirmation.
	what string
}

// resetChange is `cursor reset`: start again from a time.
func resetChange(t cursorTarget, from time.Time, limit int, now time.Time) (change, []string, error) {
	if from.After(now) {
		return change{}, nil, fmt.Errorf("--start-time %s is in the future", from.Format(time.RFC3339))
	}
	if limit != 0 && (limit < eventsapi.MinLimit || limit > eventsapi.MaxLimit) {
		return change{}, nil, fmt.Errorf("--limit must be from %d to %d, got %d", eventsapi.MinLimit, eventsapi.MaxLimit, limit)
	}
	var notes []string
	if now.Sub(from) > dataWindow {
		notes = append(notes, "the Events API keeps 120 days of events; it may refuse or clamp a start_time older than it keeps")
	}
	next := state.State{Stream: t.EventType, UpdatedAt: now.UTC(), Reset: &state.Reset{StartTime: from.UTC(), Limit: limit}}
	what := fmt.Sprintf("at its next start, %s reads again every event since %s (events already shipped are sent again; Elasticsearch answers 409 for those it already indexed and keeps the first copy, counted in output.events.duplicates; other outputs receive them twice)", t.Key, from.UTC().Format(time.RFC3339))
	return change{target: t, next: next, what: what}, notes, nil
}

// setChange is `cursor set`: continue from a given API cursor.
func setChange(t cursorTarget, cursor, apiVersion string, now time.Time) (change, error) {
	cursor = strings.TrimSpace(cursor)
	if cursor == "" {
		return change{}, errors.New("--cursor is required: an Events API cursor, as found in a state file or an API response")
	}
	if strings.ContainsAny(cursor, "\"\\\n\r\t ") {
		return change{}, errors.New("--cursor must be the bare cursor string, without quotes, spaces or newlines")
	}
	if apiVersion == "" {
		apiVersion = t.APIVersion
	}
	if apiVersion == "" {
		apiVersion = config.APIv2
	}
	if apiVersion != config.APIv1 && apiVersion != config.APIv2 {
		return change{}, fmt.Errorf("--api-version must be v1 or v2, got %q", apiVersion)
	}
	if t.APIVersion != "" && apiVersion != t.APIVersion {
		return change{}, fmt.Errorf("--api-version %s differs from the stream's api_version %s, so the stream would refuse the cursor", apiVersion, t.APIVersion)
	}
	next := state.State{Stream: t.EventType, APIVersion: apiVersion, Cursor: cursor, UpdatedAt: now.UTC()}
	what := fmt.Sprintf("at its next start, %s continues from the given %s cursor", t.Key, apiVersion)
	return change{target: t, next: next, what: what}, nil
}

// apply shows the change, asks for confirmation unless yes, and replaces
// the state atomically, keeping the replaced file as .bak (unless it held
// only a pending reset: then .bak keeps the state from before that reset).
func apply(ch change, yes bool, in io.Reader, out io.Writer) error {
	current := statusOf(ch.target)
	fmt.Fprintf(out, "Stream %s, state file %s\n", ch.target.Key, ch.target.StatePath)
	fmt.Fprintf(out, "  now:   %s\n", current.describe())
	if current.Problem != "" {
		fmt.Fprintf(out, "         (%s)\n", current.Problem)
	}
	fmt.Fprintf(out, "  after: %s\n", ch.what)
	if current.BackfillPending > 0 {
		fmt.Fprintf(out, "  Note: %d parallel backfill time slice(s) are still pending; this change drops them, so their unacknowledged events are read again only if the new position is before them.\n", current.BackfillPending)
	}
	switch _, err := os.Stat(ch.target.StatePath); {
	case err != nil:
	case state.KeepsBackup(ch.target.StatePath):
		fmt.Fprintf(out, "  The current file holds only a pending reset, so %s%s keeps the state from before that reset.\n", ch.target.StatePath, state.BackupSuffix)
	default:
		fmt.Fprintf(out, "  The current file is kept as %s%s.\n", ch.target.StatePath, state.BackupSuffix)
	}
	if !yes {
		ok, err := confirm(in, out, "Change it?")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed; nothing was changed")
		}
	}
	backup, err := state.Replace(ch.target.StatePath, ch.next)
	if err != nil {
		return fmt.Errorf("nothing was changed: %w", err)
	}
	fmt.Fprintf(out, "Done: %s\n", ch.what)
	if backup != "" {
		fmt.Fprintf(out, "To undo, stop the beat and move %s back to %s.\n", backup, ch.target.StatePath)
	}
	return nil
}

// confirm asks a yes/no question; anything but y or yes (including no
// input at all) is no.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	if errors.Is(err, io.EOF) && line == "" {
		fmt.Fprintln(out)
		return false, errors.New("no answer on standard input; nothing was changed (pass --yes to change without asking)")
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

// genCursorCmd is `eventsapibeat cursor show|reset|set`.
func genCursorCmd(settings instance.Settings) *cobra.Command {
	root := &cobra.Command{
		Use:   "cursor",
		Short: "Show or change the streams' stored positions (cursor state files)",
		Long: "show prints each stream's stored position. reset and set change one stream's position for its\n" +
			"next start; they refuse to run while the beat holds the data path, ask for confirmation unless\n" +
			"--yes is given, write atomically and keep the replaced state file as <file>.bak.",
	}

	var asJSON bool
	show := &cobra.Command{
		Use:          "show [stream...]",
		Short:        "Show each enabled stream's stored position (or the named streams')",
		SilenceUsage: true,
		RunE: func(c *cobra.Command, args []string) error {
			setup, err := loadSetup(settings)
			if err != nil {
				return err
			}
			refs := setup.enabled()
			if len(args) > 0 {
				refs = nil
				for _, a := range args {
					ref, err := setup.find(a)
					if err != nil {
						return err
					}
					refs = append(refs, ref)
				}
			}
			return showCursors(c.OutOrStdout(), setup.cfg, refs, asJSON, time.Now())
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print JSON (one array of objects) instead of text")

	var startTime string
	var limit int
	var yes bool
	reset := &cobra.Command{
		Use:          "reset <stream> --start-time T",
		Short:        "Make a stream start again from a time at its next start",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(c *cobra.Command, args []string) error {
			target, unlock, err := prepareChange(settings, args[0])
			if err != nil {
				return err
			}
			defer unlock()
			now := time.Now()
			from, err := parseStartTime(startTime, now)
			if err != nil {
				return err
			}
			ch, notes, err := resetChange(target, from, limit, now)
			if err != nil {
				return err
			}
			for _, n := range notes {
				fmt.Fprintf(c.ErrOrStderr(), "Note: %s\n", n)
			}
			return apply(ch, yes, c.InOrStdin(), c.OutOrStdout())
		},
	}
	reset.Flags().StringVar(&startTime, "start-time", "", "where to start: RFC 3339 time, date (UTC) or duration back from now (72h, 7d)")
	reset.Flags().IntVar(&limit, "limit", 0, "page size of the restart, 1 to 1000 (default: starting_cursor's, or 1000)")
	reset.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")

	var cursor, apiVersion string
	var setYes bool
	set := &cobra.Command{
		Use:          "set <stream> --cursor C",
		Short:        "Make a stream continue from a given Events API cursor at its next start",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(c *cobra.Command, args []string) error {
			target, unlock, err := prepareChange(settings, args[0])
			if err != nil {
				return err
			}
			defer unlock()
			ch, err := setChange(target, cursor, apiVersion, time.Now())
			if err != nil {
				return err
			}
			return apply(ch, setYes, c.InOrStdin(), c.OutOrStdout())
		},
	}
	set.Flags().StringVar(&cursor, "cursor", "", "the Events API cursor to continue from")
	set.Flags().StringVar(&apiVersion, "api-version", "", "API version that issued the cursor, v2 or v1 (default: the stream's)")
	set.Flags().BoolVar(&setYes, "yes", false, "do not ask for confirmation")

	root.AddCommand(show, reset, set)
	return root
}

// prepareChange loads the configuration, finds the stream and takes the
// data path lock.
func prepareChange(settings instance.Settings, name string) (cursorTarget, func(), error) {
	setup, err := loadSetup(settings)
	if err != nil {
		return cursorTarget{}, nil, err
	}
	ref, err := setup.find(name)
	if err != nil {
		return cursorTarget{}, nil, err
	}
	target, err := targetOf(setup.cfg, ref)
	if err != nil {
		return cursorTarget{}, nil, err
	}
	unlock, err := setup.lockDataPath()
	if err != nil {
		return cursorTarget{}, nil, err
	}
	return target, unlock, nil
}

// showCursors prints the streams' positions; it fails when a state file is
// unusable, so scripts notice.
func showCursors(w io.Writer, cfg config.Config, refs []streamRef, asJSON bool, now time.Time) error {
	var statuses []cursorStatus
	bad := 0
	for _, ref := range refs {
		t, err := targetOf(cfg, ref)
		if err != nil {
			return err
		}
		st := statusOf(t)
		if st.Problem != "" {
			bad++
		}
		statuses = append(statuses, st)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(statuses); err != nil {
			return fmt.Errorf("writing JSON: %w", err)
		}
	} else {
		for i, st := range statuses {
			if i > 0 {
				fmt.Fprintln(w)
			}
			writeStatus(w, st, now)
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d state file(s) unusable; `eventsapibeat cursor reset <stream> --start-time T` replaces one and keeps it as .bak", bad)
	}
	return nil
}
