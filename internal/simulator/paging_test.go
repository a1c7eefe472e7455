package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestResetCursorValidation(t *testing.T) {
	for _, shape := range []struct{ name, want400 string }{
		{ErrorShapeLegacy, `{"Error":{"Message":"Bad Request"}}`},
		{ErrorShapeV141, `{"status":400,"message":"Bad Request"}`},
	} {
		t.Run(shape.name, func(t *testing.T) {
			s, _ := newSim(t, Config{Seed: 2, Events: counts(50, 50, 50), Span: 30 * time.Minute, ErrorShape: shape.name, RateLimitPerMinute: -1})
			tok := mustToken(t, s, TokenOptions{})
			cases := []struct {
				name, body string
				want       int
			}{
				{"empty body", "", 200},
				{"whitespace body", " \n\t", 200},
				{"empty object", "{}", 200},
				{"null", "null", 200},
				{"limit 1", `{"limit":1}`, 200},
				{"limit 1000", `{"limit":1000}`, 200},
				{"limit 1e3", `{"limit":1e3}`, 200},
				{"limit 10.0", `{"limit":10.0}`, 200},
				{"limit null", `{"limit":null}`, 200},
				{"limit 0", `{"limit":0}`, 400},
				{"limit 1001", `{"limit":1001}`, 400},
				{"limit -5", `{"limit":-5}`, 400},
				{"limit 1.5", `{"limit":1.5}`, 400},
				{"limit 1e400", `{"limit":1e400}`, 400},
				{"limit string", `{"limit":"10"}`, 400},
				{"limit bool", `{"limit":true}`, 400},
				{"limit array", `{"limit":[10]}`, 400},
				{"start Z", `{"start_time":"2025-11-01T11:30:00Z"}`, 200},
				{"start offset", `{"start_time":"2025-11-01T08:30:00-03:00"}`, 200},
				{"start fraction", `{"start_time":"2025-11-01T11:30:00.123456789Z"}`, 200},
				{"start and end", `{"start_time":"2025-11-01T11:30:00Z","end_time":"2025-11-01T12:00:00+00:00"}`, 200},
				{"start equals end", `{"start_time":"2025-11-01T11:30:00Z","end_time":"2025-11-01T11:30:00Z"}`, 200},
				{"start after end", `{"start_time":"2025-11-01T12:30:00Z","end_time":"2025-11-01T12:00:00Z"}`, 400},
				{"start future", `{"start_time":"2030-01-01T00:00:00Z"}`, 200},
				{"start year 1", `{"start_time":"0001-01-01T00:00:00Z"}`, 200},
				{"end year 9999", `{"end_time":"9999-12-31T23:59:59Z"}`, 200},
				{"date only", `{"start_time":"2025-11-01"}`, 400},
				{"no zone", `{"start_time":"2025-11-01T11:30:00"}`, 400},
				{"words", `{"start_time":"yesterday"}`, 400},
				{"empty time", `{"end_time":""}`, 400},
				{"unix number", `{"start_time":1730000000}`, 400},
				{"hour 25", `{"end_time":"2025-11-01T25:00:00Z"}`, 400},
				{"truncated JSON", `{"limit":`, 400},
				{"trailing garbage", `{"limit":10}}`, 400},
				{"two objects", `{}{}`, 400},
				{"array", `[]`, 400},
				{"string", `"x"`, 400},
				{"number", `42`, 400},
				{"unknown keys ignored", `{"foo":"bar","page_size":5}`, 200},
				{"cursor number", `{"cursor":123}`, 400},
				{"cursor empty", `{"cursor":""}`, 400},
				{"cursor null is absent", `{"cursor":null,"limit":5}`, 200},
				{"huge body", `{"pad":"` + strings.Repeat("x", maxBodyBytes) + `"}`, 400},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					rec := do(t, s, http.MethodPost, "/api/v2/itemusages", "Bearer "+tok, tc.body)
					if rec.Code != tc.want {
						t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body.String())
					}
					if tc.want == 400 && rec.Body.String() != shape.want400 {
						t.Errorf("body %s", rec.Body.String())
					}
				})
			}
		})
	}
}

func TestDefaultLimitAndLimitSticks(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 4, Events: counts(250, 0, 0), Span: 50 * time.Minute})
	tok := mustToken(t, s, TokenOptions{})
	p := mustPost(t, s, "/api/v2/signinattempts", tok, "{}")
	if len(p.Items) != DefaultLimit || !p.HasMore {
		t.Fatalf("default page: %d items, has_more %v", len(p.Items), p.HasMore)
	}
	p = mustPost(t, s, "/api/v2/signinattempts", tok, `{"limit":40}`)
	for i := 0; i < 3; i++ {
		if len(p.Items) != 40 {
			t.Fatalf("page %d: %d items, want the cursor's limit 40", i, len(p.Items))
		}
		p = mustPost(t, s, "/api/v2/signinattempts", tok, cursorBody(p.Cursor))
	}
}

func TestPagingReturnsEveryEventOnce(t *testing.T) {
	const n = 2500
	s, _ := newSim(t, Config{Seed: 5, Events: counts(n, n, n), Span: 6 * time.Hour, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	tok := mustToken(t, s, TokenOptions{})
	start := fmt.Sprintf(`"start_time":%q`, rfc(baseTime.Add(-7*time.Hour)))
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		want := s.Events(typ)
		wantV1 := s.EventsV1(typ)
		if len(want) != n || len(wantV1) != n {
			t.Fatalf("%s: Events has %d/%d, want %d", typ, len(want), len(wantV1), n)
		}
		for _, ver := range []string{"v1", "v2"} {
			oracle := want
			if ver == "v1" {
				oracle = wantV1
			}
			for _, limit := range []int{1, 7, 100, 999, 1000} {
				if limit == 1 && typ != SignInAttempts {
					continue // 2500 round trips once is enough
				}
				t.Run(fmt.Sprintf("%s/%s/limit%d", typ, ver, limit), func(t *testing.T) {
					path := "/api/" + ver + "/" + typ
					items, sizes, last := pageAll(t, s, path, tok, fmt.Sprintf(`{"limit":%d,%s}`, limit, start))
					if len(items) != n {
						t.Fatalf("got %d items, want %d", len(items), n)
					}
					for i, sz := range sizes {
						if i < len(sizes)-1 && sz != limit {
							t.Fatalf("page %d has %d items with has_more, want %d", i, sz, limit)
						}
					}
					if wantPages := (n + limit - 1) / limit; len(sizes) != wantPages {
						t.Errorf("%d pages, want %d", len(sizes), wantPages)
					}
					seen := map[string]bool{}
					var prev time.Time
					for i, h := range heads(t, items) {
						if seen[h.UUID] {
							t.Fatalf("duplicate uuid %s", h.UUID)
						}
						seen[h.UUID] = true
						ts, err := time.Parse(time.RFC3339Nano, h.Timestamp)
						if err != nil {
							t.Fatal(err)
						}
						if ts.Before(prev) {
							t.Fatalf("item %d out of order: %v < %v", i, ts, prev)
						}
						prev = ts
						if h.UUID != oracle[i].UUID || !ts.Equal(oracle[i].Timestamp) {
							t.Fatalf("item %d is %s@%v, oracle %s@%v", i, h.UUID, ts, oracle[i].UUID, oracle[i].Timestamp)
						}
						if string(items[i]) != string(oracle[i].JSON) {
							t.Fatalf("item %d bytes differ from the oracle:\n%s\n%s", i, items[i], oracle[i].JSON)
						}
					}
					// Polling the final cursor: empty page, same cursor.
					again := mustPost(t, s, path, tok, cursorBody(last.Cursor))
					if len(again.Items) != 0 || again.HasMore || again.Cursor != last.Cursor {
						t.Errorf("re-poll: %d items, has_more %v, cursor changed %v", len(again.Items), again.HasMore, again.Cursor != last.Cursor)
					}
				})
			}
		}
	}
}

func TestEmptyStream(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 5})
	tok := mustToken(t, s, TokenOptions{})
	p := mustPost(t, s, "/api/v2/auditevents", tok, "")
	if len(p.Items) != 0 || p.HasMore {
		t.Fatalf("%+v", p)
	}
	p2 := mustPost(t, s, "/api/v2/auditevents", tok, cursorBody(p.Cursor))
	if p2.Cursor != p.Cursor || len(p2.Items) != 0 || p2.HasMore {
		t.Fatalf("%+v", p2)
	}
	if ev := s.Events(AuditEvents); len(ev) != 0 {
		t.Fatalf("Events: %d", len(ev))
	}
	if ev := s.Events("nope"); ev != nil {
		t.Fatal("unknown type returned events")
	}
}

// uniqueTS returns an index near i whose timestamp differs from both
// neighbours, so inclusive bounds can be checked exactly.
func uniqueTS(t *testing.T, ev []Event, i int) int {
	for j := i; j < len(ev)-1; j++ {
		if j > 0 && !ev[j].Timestamp.Equal(ev[j-1].Timestamp) && !ev[j].Timestamp.Equal(ev[j+1].Timestamp) {
			return j
		}
	}
	t.Fatal("no unique timestamp")
	return 0
}

func TestEndTimeBounds(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 6, Events: counts(0, 0, 600), Span: 10 * time.Hour, LiveInterval: time.Minute, RateLimitPerMinute: -1})
	tok := mustToken(t, s, TokenOptions{})
	ev := s.Events(AuditEvents)
	lo, hi := uniqueTS(t, ev, 50), uniqueTS(t, ev, 300)

	body := fmt.Sprintf(`{"limit":30,"start_time":%q,"end_time":%q}`, rfc(ev[lo].Timestamp), rfc(ev[hi].Timestamp))
	items, _, last := pageAll(t, s, "/api/v2/auditevents", tok, body)
	hs := heads(t, items)
	if len(hs) != hi-lo+1 || hs[0].UUID != ev[lo].UUID || hs[len(hs)-1].UUID != ev[hi].UUID {
		t.Fatalf("bounded read: %d items, want %d (inclusive bounds)", len(hs), hi-lo+1)
	}
	// Time passes and live events arrive: a bounded cursor stays done.
	clk.Advance(3 * time.Hour)
	p := mustPost(t, s, "/api/v2/auditevents", tok, cursorBody(last.Cursor))
	if len(p.Items) != 0 || p.HasMore || p.Cursor != last.Cursor {
		t.Fatalf("bounded cursor after time passed: %d items, has_more %v", len(p.Items), p.HasMore)
	}

	// end_time only: start defaults to one hour before end_time.
	end := ev[hi].Timestamp
	items, _, _ = pageAll(t, s, "/api/v1/auditevents", tok, fmt.Sprintf(`{"limit":1000,"end_time":%q}`, rfc(end)))
	var want []string
	for _, e := range ev {
		if !e.Timestamp.Before(end.Add(-time.Hour)) && !e.Timestamp.After(end) {
			want = append(want, e.UUID)
		}
	}
	if got := heads(t, items); len(got) != len(want) || (len(want) > 0 && (got[0].UUID != want[0] || got[len(got)-1].UUID != want[len(want)-1])) {
		t.Fatalf("end_time only: %d items, want %d", len(got), len(want))
	}

	// end_time in the future: tail live events up to end_time, then stop.
	now := clk.Now().Add(time.Second) // a live event is due exactly at clk.Now()
	body = fmt.Sprintf(`{"start_time":%q,"end_time":%q}`, rfc(now), rfc(now.Add(10*time.Minute+30*time.Second)))
	p = mustPost(t, s, "/api/v2/auditevents", tok, body)
	if len(p.Items) != 0 || p.HasMore {
		t.Fatalf("future window, nothing yet: %d items", len(p.Items))
	}
	clk.Advance(time.Hour)
	got := 0
	for {
		p = mustPost(t, s, "/api/v2/auditevents", tok, cursorBody(p.Cursor))
		for _, h := range heads(t, p.Items) {
			ts, _ := time.Parse(time.RFC3339Nano, h.Timestamp)
			if ts.After(now.Add(10*time.Minute+30*time.Second)) || ts.Before(now) {
				t.Fatalf("live event %v outside the window", ts)
			}
			got++
		}
		if !p.HasMore {
			break
		}
	}
	// Live events arrive every minute since New (baseTime); the window
	// [now, now+10m30s] holds ten or eleven of them depending on alignment.
	wantLive := 0
	for _, e := range s.Events(AuditEvents) {
		if !e.Timestamp.Before(now) && !e.Timestamp.After(now.Add(10*time.Minute+30*time.Second)) {
			wantLive++
		}
	}
	if got != wantLive || got < 10 {
		t.Fatalf("live events in future window: got %d, want %d", got, wantLive)
	}
}

func TestStartTimeDefaultAndClamp(t *testing.T) {
	t.Run("default one hour", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 7, Events: counts(600, 0, 0), Span: 3 * time.Hour})
		tok := mustToken(t, s, TokenOptions{})
		var want []string
		for _, e := range s.Events(SignInAttempts) {
			if !e.Timestamp.Before(baseTime.Add(-time.Hour)) {
				want = append(want, e.UUID)
			}
		}
		items, _, _ := pageAll(t, s, "/api/v2/signinattempts", tok, `{"limit":1000}`)
		got := heads(t, items)
		if len(got) != len(want) || len(want) < 100 || got[0].UUID != want[0] {
			t.Fatalf("got %d items, want %d (last hour)", len(got), len(want))
		}
	})
	t.Run("120-day clamp", func(t *testing.T) {
		s, clk := newSim(t, Config{Seed: 8, Events: counts(0, 3000, 0), Span: 200 * 24 * time.Hour, RateLimitPerMinute: -1})
		tok := mustToken(t, s, TokenOptions{})
		ev := s.Events(ItemUsages)
		if len(ev) != 3000 || !ev[0].Timestamp.Before(baseTime.Add(-DataWindow)) {
			t.Fatalf("oracle should include events older than 120 days")
		}
		windowStart := func() int {
			for i, e := range ev {
				if !e.Timestamp.Before(clk.Now().Add(-DataWindow)) {
					return i
				}
			}
			return len(ev)
		}
		first := windowStart()
		body := fmt.Sprintf(`{"limit":1000,"start_time":%q}`, rfc(baseTime.Add(-180*24*time.Hour)))
		items, _, _ := pageAll(t, s, "/api/v2/itemusages", tok, body)
		got := heads(t, items)
		if len(got) != len(ev)-first || got[0].UUID != ev[first].UUID {
			t.Fatalf("clamped read: %d items, want %d starting at %s", len(got), len(ev)-first, ev[first].UUID)
		}

		// A cursor parked at old data skips what has aged out meanwhile.
		p := mustPost(t, s, "/api/v2/itemusages", tok, `{"limit":5,"start_time":"2000-01-01T00:00:00Z"}`)
		clk.Advance(30 * 24 * time.Hour)
		p = mustPost(t, s, "/api/v2/itemusages", tok, cursorBody(p.Cursor))
		first = windowStart()
		if h := heads(t, p.Items); len(h) != 5 || h[0].UUID != ev[first].UUID {
			t.Fatalf("aged cursor resumed at %v, want %s", h, ev[first].UUID)
		}

		// A window entirely older than 120 days is empty.
		p = mustPost(t, s, "/api/v2/itemusages", tok, fmt.Sprintf(`{"end_time":%q}`, rfc(clk.Now().Add(-150*24*time.Hour))))
		if len(p.Items) != 0 || p.HasMore {
			t.Fatalf("window older than 120 days: %d items", len(p.Items))
		}
	})
}

func TestBadCursors(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 10, Events: counts(100, 100, 100), Span: 50 * time.Minute})
	other, _ := newSim(t, Config{Seed: 11, Events: counts(100, 100, 100), Span: 50 * time.Minute})
	tok := mustToken(t, s, TokenOptions{})
	otherTok := mustToken(t, other, TokenOptions{})

	iu := mustPost(t, s, "/api/v2/itemusages", tok, `{"limit":10}`).Cursor
	si := mustPost(t, s, "/api/v2/signinattempts", tok, `{"limit":10}`).Cursor
	foreign := mustPost(t, other, "/api/v2/signinattempts", otherTok, `{"limit":10}`).Cursor
	flip := func(c string, i int) string {
		b := []byte(c)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := []struct{ name, cursor string }{
		{"garbage", "not a cursor"},
		{"doc example", "aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK"},
		{"mock style", "cursor_1"},
		{"edited state", flip(si, 5)},
		{"edited mac", flip(si, len(si)-3)},
		{"truncated", si[:len(si)-1]},
		{"extended", si + "A"},
		{"padded", si + "=="},
		{"cross type", iu},
		{"other server", foreign},
	}
	for _, tc := range cases {
		for _, ver := range []string{"v1", "v2"} {
			rec := do(t, s, http.MethodPost, "/api/"+ver+"/signinattempts", "Bearer "+tok, cursorBody(tc.cursor))
			if rec.Code != 400 || rec.Body.String() != `{"Error":{"Message":"Bad Request"}}` {
				t.Errorf("%s %s: %d %s", tc.name, ver, rec.Code, rec.Body.String())
			}
		}
	}
}

func TestCursorIsVersionAgnostic(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 12, Events: counts(0, 300, 0), Span: 50 * time.Minute})
	tok := mustToken(t, s, TokenOptions{})
	p1 := mustPost(t, s, "/api/v1/itemusages", tok, `{"limit":20}`)
	a := mustPost(t, s, "/api/v2/itemusages", tok, cursorBody(p1.Cursor))
	b := mustPost(t, s, "/api/v1/itemusages", tok, cursorBody(p1.Cursor))
	ha, hb := heads(t, a.Items), heads(t, b.Items)
	if len(ha) != 20 || len(hb) != 20 || a.Cursor != b.Cursor {
		t.Fatalf("v1 cursor on v2: %d/%d items", len(ha), len(hb))
	}
	for i := range ha {
		if ha[i] != hb[i] {
			t.Fatalf("item %d differs between versions: %v vs %v", i, ha[i], hb[i])
		}
	}
	if ev := s.Events(ItemUsages); ha[0].UUID != ev[20].UUID {
		t.Fatalf("continuation starts at %s, want %s", ha[0].UUID, ev[20].UUID)
	}
}

func TestMixedCursorAndReset(t *testing.T) {
	bodies := []string{`{"cursor":%q,"limit":50}`, `{"cursor":%q,"start_time":"2025-11-01T11:00:00Z"}`, `{"cursor":%q,"end_time":"2025-11-01T12:00:00Z"}`}
	for _, mode := range []string{"", MixedReject, MixedCursorWins} {
		t.Run("mode="+mode, func(t *testing.T) {
			s, _ := newSim(t, Config{Seed: 13, Events: counts(0, 0, 300), Span: 50 * time.Minute, MixedCursorAndReset: mode})
			tok := mustToken(t, s, TokenOptions{})
			ev := s.Events(AuditEvents)
			c := mustPost(t, s, "/api/v2/auditevents", tok, `{"limit":10}`).Cursor
			for _, b := range bodies {
				code, p := post(t, s, "/api/v2/auditevents", tok, fmt.Sprintf(b, c))
				if mode != MixedCursorWins {
					if code != 400 {
						t.Errorf("%s: %d, want 400", b, code)
					}
					continue
				}
				if code != 200 {
					t.Fatalf("%s: %d, want 200", b, code)
				}
				h := heads(t, p.Items)
				if len(h) != 10 || h[0].UUID != ev[10].UUID {
					t.Errorf("%s: cursor should win (10 items from #10), got %d items", b, len(h))
				}
			}
			// null reset fields are "not sent": never mixed.
			if code, _ := post(t, s, "/api/v2/auditevents", tok, fmt.Sprintf(`{"cursor":%q,"limit":null}`, c)); code != 200 {
				t.Errorf("cursor with null limit: %d", code)
			}
			// Invalid reset fields are a 400 whatever the mode.
			if code, _ := post(t, s, "/api/v2/auditevents", tok, fmt.Sprintf(`{"cursor":%q,"limit":5000}`, c)); code != 400 {
				t.Errorf("cursor with invalid limit: %d", code)
			}
		})
	}
}

func TestLiveArrival(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 14, Events: counts(3, 0, 0), Span: 10 * time.Minute, LiveInterval: 10 * time.Second})
	tok := mustToken(t, s, TokenOptions{})
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		path := "/api/v2/" + typ
		p := mustPost(t, s, path, tok, `{"limit":2}`)
		initial := len(s.Events(typ))
		if len(p.Items) != min(initial, 2) {
			t.Fatalf("%s: initial page %d", typ, len(p.Items))
		}
		for p.HasMore {
			p = mustPost(t, s, path, tok, cursorBody(p.Cursor))
		}
		c := p.Cursor
		p = mustPost(t, s, path, tok, cursorBody(c))
		if len(p.Items) != 0 || p.Cursor != c {
			t.Fatalf("%s: idle poll changed things", typ)
		}
	}
	start := baseTime
	clk.Advance(35 * time.Second) // three live events per type have arrived
	for _, typ := range []string{SignInAttempts, ItemUsages, AuditEvents} {
		ev := s.Events(typ)
		live := ev[len(ev)-3:]
		for k, e := range live {
			if want := start.Add(time.Duration(k+1) * 10 * time.Second); !e.Timestamp.Equal(want) {
				t.Fatalf("%s live %d at %v, want %v", typ, k, e.Timestamp, want)
			}
		}
	}
	// Re-run the tail for sign-ins with the cursor kept before the advance.
	s2, clk2 := newSim(t, Config{Seed: 14, LiveInterval: 10 * time.Second})
	tok2 := mustToken(t, s2, TokenOptions{})
	p := mustPost(t, s2, "/api/v1/signinattempts", tok2, `{"limit":2}`)
	if len(p.Items) != 0 || p.HasMore {
		t.Fatal("events before any arrived")
	}
	clk2.Advance(35 * time.Second)
	p = mustPost(t, s2, "/api/v1/signinattempts", tok2, cursorBody(p.Cursor))
	if len(p.Items) != 2 || !p.HasMore {
		t.Fatalf("after 35s: %d items has_more %v, want 2 true", len(p.Items), p.HasMore)
	}
	p = mustPost(t, s2, "/api/v1/signinattempts", tok2, cursorBody(p.Cursor))
	if len(p.Items) != 1 || p.HasMore {
		t.Fatalf("second page: %d items has_more %v, want 1 false", len(p.Items), p.HasMore)
	}
	h := heads(t, p.Items)
	if h[0].Timestamp != rfc(baseTime.Add(30*time.Second)) {
		t.Fatalf("third live event at %s", h[0].Timestamp)
	}
	c := p.Cursor
	clk2.Advance(4 * time.Second) // 39s after start
	if p = mustPost(t, s2, "/api/v1/signinattempts", tok2, cursorBody(c)); len(p.Items) != 0 || p.Cursor != c {
		t.Fatalf("nothing new yet: %d items", len(p.Items))
	}
	clk2.Advance(time.Second) // 40s: the fourth event is due exactly now
	if p = mustPost(t, s2, "/api/v1/signinattempts", tok2, cursorBody(c)); len(p.Items) != 1 {
		t.Fatalf("event due exactly now: %d items", len(p.Items))
	}
	if n := len(s2.Events(SignInAttempts)); n != 4 {
		t.Fatalf("Events has %d live events, want 4", n)
	}
}

func TestRateLimit(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 15, Events: counts(10, 10, 10), RateLimitPerMinute: 5, RateLimitPerHour: 8, RetryAfter: true})
	tokA := mustToken(t, s, TokenOptions{})
	tokB := mustToken(t, s, TokenOptions{Features: []string{AuditEvents}})
	paths := []string{"/api/v2/signinattempts", "/api/v1/auditevents"}
	req := func(i int) int {
		// Alternate tokens and endpoints: the limit is per account.
		if i%2 == 0 {
			return do(t, s, http.MethodPost, paths[0], "Bearer "+tokA, "{}").Code
		}
		return do(t, s, http.MethodPost, paths[1], "Bearer "+tokB, "{}").Code
	}
	for i := 0; i < 5; i++ {
		if c := req(i); c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	// Unauthenticated requests neither pass nor consume quota.
	if c := do(t, s, http.MethodPost, paths[0], "Bearer nope", "{}").Code; c != 401 {
		t.Fatalf("bad token while limited: %d", c)
	}
	rec := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tokB, "")
	if rec.Code != 429 || rec.Body.String() != `{"Error":{"Message":"Too Many Requests"}}` {
		t.Fatalf("6th request: %d %s", rec.Code, rec.Body.String())
	}
	if ra := rec.Header().Get("Retry-After"); ra != "50" {
		t.Fatalf("Retry-After %q, want 50 (minute window ends in 50s)", ra)
	}
	clk.Advance(49 * time.Second)
	if c := req(0); c != 429 {
		t.Fatalf("before the window resets: %d", c)
	}
	clk.Advance(time.Second) // 12:01:00
	for i := 0; i < 3; i++ {
		if c := req(i); c != 200 {
			t.Fatalf("after minute reset, request %d: %d", i, c)
		}
	}
	rec = do(t, s, http.MethodPost, paths[0], "Bearer "+tokA, "{}")
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "3540" {
		t.Fatalf("hourly limit: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	clk.Advance(59 * time.Minute) // 13:00:00
	if c := req(0); c != 200 {
		t.Fatalf("after hour reset: %d", c)
	}
	st := s.Stats()
	if st.RateLimited != 3 || st.ByStatus[429] != 3 || st.ByStatus[401] != 1 {
		t.Fatalf("stats %+v", st)
	}

	t.Run("no Retry-After by default, v141 shape", func(t *testing.T) {
		s, _ := newSim(t, Config{Seed: 15, RateLimitPerMinute: 1, ErrorShape: ErrorShapeV141})
		tok := mustToken(t, s, TokenOptions{})
		do(t, s, http.MethodPost, paths[0], "Bearer "+tok, "")
		rec := do(t, s, http.MethodPost, paths[0], "Bearer "+tok, "")
		if rec.Code != 429 || rec.Header().Get("Retry-After") != "" || rec.Body.String() != `{"status":429,"message":"Too Many Requests"}` {
			t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
		}
	})
	t.Run("defaults 600/min, negative disables", func(t *testing.T) {
		for _, tc := range []struct {
			perMin, ok int
		}{{0, DefaultRateLimitPerMinute}, {-1, 700}} {
			s, _ := newSim(t, Config{Seed: 15, RateLimitPerMinute: tc.perMin})
			tok := mustToken(t, s, TokenOptions{})
			ok := 0
			for i := 0; i < 700; i++ {
				if do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tok, "").Code == 200 {
					ok++
				}
			}
			if ok != tc.ok {
				t.Errorf("RateLimitPerMinute=%d: %d ok, want %d", tc.perMin, ok, tc.ok)
			}
		}
	})
}

func TestStats(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 16, Events: counts(30, 0, 0), Span: 30 * time.Minute})
	tok := mustToken(t, s, TokenOptions{})
	mustPost(t, s, "/api/v2/signinattempts", tok, `{"limit":20}`)
	mustPost(t, s, "/api/v1/signinattempts", tok, `{"limit":20}`)
	do(t, s, http.MethodPost, "/api/v2/signinattempts", "Bearer "+tok, `{"limit":0}`)
	do(t, s, http.MethodPost, "/nowhere", "", "")
	st := s.Stats()
	if st.Requests != 4 || st.ByPath["/api/v2/signinattempts"] != 2 || st.ByPath[otherPath] != 1 ||
		st.ByPathStatus["/api/v2/signinattempts"][400] != 1 || st.ByStatus[200] != 2 || st.ItemsServed[SignInAttempts] != 40 {
		t.Fatalf("%+v", st)
	}
	st.ByPath["x"] = 1 // a copy
	if s.Stats().ByPath["x"] != 0 {
		t.Fatal("Stats shares its maps")
	}
	s.ResetStats()
	if s.Stats().Requests != 0 {
		t.Fatal("ResetStats")
	}
}

func TestLatencyRespectsContext(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 17, Latency: 20 * time.Millisecond})
	tok := mustToken(t, s, TokenOptions{})
	t0 := time.Now()
	if c := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tok, "").Code; c != 200 {
		t.Fatal(c)
	}
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("latency not applied: %v", d)
	}

	s2, _ := newSim(t, Config{Seed: 17, Latency: time.Hour})
	req := httptest.NewRequest(http.MethodGet, "/api/v2/auth/introspect", nil)
	req.Header.Set("Authorization", "Bearer "+mustToken(t, s2, TokenOptions{}))
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	t0 = time.Now()
	s2.Handler().ServeHTTP(rec, req.WithContext(ctx))
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("cancelled request waited %v", d)
	}
	if s2.Stats().Aborted != 1 || rec.Body.Len() != 0 {
		t.Fatalf("aborted %d, body %q", s2.Stats().Aborted, rec.Body.String())
	}
}

func TestConcurrentUse(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 18, Events: counts(500, 500, 500), Span: 50 * time.Minute, LiveInterval: time.Second, RateLimitPerMinute: -1, RateLimitPerHour: -1})
	tok := mustToken(t, s, TokenOptions{})
	done := make(chan error, 6)
	for g := 0; g < 6; g++ {
		go func(g int) {
			typ := []string{SignInAttempts, ItemUsages, AuditEvents}[g%3]
			path := "/api/v" + string(rune('1'+g%2)) + "/" + typ
			next := func(body string) (page, error) {
				rec := do(t, s, http.MethodPost, path, "Bearer "+tok, body)
				var p page
				if rec.Code != 200 {
					return p, fmt.Errorf("%s: status %d", path, rec.Code)
				}
				return p, json.Unmarshal(rec.Body.Bytes(), &p)
			}
			p, err := next(`{"limit":37}`)
			seen := map[string]bool{}
			for i := 0; i < 40 && err == nil; i++ {
				for _, it := range p.Items {
					var h itemHead
					_ = json.Unmarshal(it, &h)
					if seen[h.UUID] {
						done <- fmt.Errorf("%s: duplicate %s", path, h.UUID)
						return
					}
					seen[h.UUID] = true
				}
				if g == 0 {
					clk.Advance(time.Second)
				}
				_ = s.Stats()
				p, err = next(cursorBody(p.Cursor))
			}
			if err != nil {
				done <- err
				return
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 6; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
