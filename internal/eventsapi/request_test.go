package eventsapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func tp(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func TestParseResetCursor(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    ResetCursor
		wantErr string
	}{
		// The seed config's value, as a YAML folded scalar delivers it.
		{name: "seed sample with folded newline", in: "{ \"limit\": 1000, \"start_time\": \"2020-01-01T00:00:00Z\" }\n",
			want: ResetCursor{Limit: 1000, StartTime: tp("2020-01-01T00:00:00Z")}},
		{name: "empty", in: "", want: ResetCursor{}},
		{name: "whitespace only", in: " \n\t", want: ResetCursor{}},
		{name: "empty object", in: "{}", want: ResetCursor{}},
		{name: "multi-line with end_time and offset", in: "\n{\n  \"limit\": 1,\n  \"start_time\": \"2021-06-11T16:32:50-03:00\",\n  \"end_time\": \"2021-06-12T00:00:00.5Z\"\n}\n",
			want: ResetCursor{Limit: 1, StartTime: tp("2021-06-11T19:32:50Z"), EndTime: tp("2021-06-12T00:00:00.5Z")}},
		{name: "limit as 1e3", in: `{"limit": 1e3}`, want: ResetCursor{Limit: 1000}},
		{name: "null values are absent", in: `{"limit": null, "start_time": null}`, want: ResetCursor{}},
		{name: "unknown keys ignored", in: `{"limit": 5, "page_size": 3}`, want: ResetCursor{Limit: 5}},
		{name: "start equals end", in: `{"start_time":"2020-01-01T00:00:00Z","end_time":"2020-01-01T00:00:00Z"}`,
			want: ResetCursor{StartTime: tp("2020-01-01T00:00:00Z"), EndTime: tp("2020-01-01T00:00:00Z")}},

		{name: "bad JSON", in: `{"limit": 1000,}`, wantErr: "not valid JSON"},
		{name: "trailing data", in: `{"limit": 1} {"limit": 2}`, wantErr: "not valid JSON"},
		{name: "not an object (array)", in: `[{"limit": 1}]`, wantErr: "must be a JSON object"},
		{name: "not an object (bare cursor string)", in: `aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK`, wantErr: "must be a JSON object"},
		{name: "not an object (null)", in: `null`, wantErr: "must be a JSON object"},
		{name: "limit 0", in: `{"limit": 0}`, wantErr: "limit must be from 1 to 1000, got 0"},
		{name: "limit 1001", in: `{"limit": 1001}`, wantErr: "limit must be from 1 to 1000, got 1001"},
		{name: "limit negative", in: `{"limit": -5}`, wantErr: "limit must be from 1 to 1000"},
		{name: "limit fractional", in: `{"limit": 10.5}`, wantErr: "limit must be a whole number"},
		{name: "limit huge", in: `{"limit": 1e400}`, wantErr: "limit must be a number from 1 to 1000"},
		{name: "limit as string", in: `{"limit": "1000"}`, wantErr: "limit must be a number"},
		{name: "cursor key", in: `{"cursor": "aGVsbG8="}`, wantErr: "must be a ResetCursor"},
		{name: "cursor key with reset fields", in: `{"cursor": "x", "limit": 10}`, wantErr: "must be a ResetCursor"},
		{name: "bad time", in: `{"start_time": "2020-01-01"}`, wantErr: "start_time is not an RFC 3339 time"},
		{name: "time without zone", in: `{"end_time": "2020-01-01T00:00:00"}`, wantErr: "end_time is not an RFC 3339 time"},
		{name: "1-digit hour (time.Parse accepts it)", in: `{"start_time": "2020-01-01T0:00:00Z"}`, wantErr: "start_time is not an RFC 3339 time"},
		{name: "comma before fraction (time.Parse accepts it)", in: `{"start_time": "2020-01-01T00:00:00,5Z"}`, wantErr: "start_time is not an RFC 3339 time"},
		{name: "year 0000 east of UTC is year -1 in UTC", in: `{"start_time": "0000-01-01T00:00:00+01:00"}`, wantErr: "between years 0001 and 9999"},
		{name: "time as number", in: `{"start_time": 1577836800}`, wantErr: "start_time must be an RFC 3339 string"},
		{name: "start after end", in: `{"start_time":"2020-01-02T00:00:00Z","end_time":"2020-01-01T00:00:00Z"}`, wantErr: "start_time is after end_time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseResetCursor(tc.in)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseResetCursor = %+v, want error %q", got, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "starting_cursor") {
					t.Errorf("error %q does not contain %q and the setting name", err, tc.wantErr)
				}
				assertOneLine(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatalf("ParseResetCursor: %v", err)
			}
			if got.Limit != tc.want.Limit || !eqTime(got.StartTime, tc.want.StartTime) || !eqTime(got.EndTime, tc.want.EndTime) {
				t.Errorf("got %s, want %s", mustJSON(t, got), mustJSON(t, tc.want))
			}
		})
	}
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func TestRequestEncoding(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	startLocal := time.Date(2021, 6, 11, 16, 32, 50, 0, time.FixedZone("", -3*3600))
	nanos := time.Date(2024, 12, 2, 11, 54, 21, 272291980, est)
	yearZero := time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		req     Request
		want    string
		wantErr string
	}{
		{name: "cursor only", req: Request{Cursor: "aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK"},
			want: `{"cursor":"aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK"}`},
		{name: "cursor is sent byte for byte", req: Request{Cursor: `a<b>&c+/=`}, want: `{"cursor":"a<b>&c+/="}`},
		{name: "zero reset is the API default", req: Request{}, want: `{}`},
		{name: "reset limit and start", req: Request{Reset: ResetCursor{Limit: 1000, StartTime: &start}},
			want: `{"limit":1000,"start_time":"2020-01-01T00:00:00Z"}`},
		{name: "reset times become UTC", req: Request{Reset: ResetCursor{StartTime: &startLocal, EndTime: &nanos}},
			want: `{"start_time":"2021-06-11T19:32:50Z","end_time":"2024-12-02T16:54:21.27229198Z"}`},
		{name: "both is refused", req: Request{Cursor: "c", Reset: ResetCursor{Limit: 10}}, wantErr: "both a cursor and reset fields"},
		{name: "bad limit is refused", req: Request{Reset: ResetCursor{Limit: 1001}}, wantErr: "limit must be from 1 to 1000"},
		{name: "negative limit is refused", req: Request{Reset: ResetCursor{Limit: -1}}, wantErr: "limit must be from 1 to 1000"},
		{name: "start after end is refused", req: Request{Reset: ResetCursor{StartTime: &nanos, EndTime: &start}}, wantErr: "start_time is after end_time"},
		{name: "year outside RFC 3339 is refused", req: Request{Reset: ResetCursor{EndTime: &yearZero}}, wantErr: "end_time must be between years 0001 and 9999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.body()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("body() = %s, %v; want error %q", got, err, tc.wantErr)
				}
				if _, err := json.Marshal(tc.req); err == nil {
					t.Error("json.Marshal accepted an invalid Request")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("body\n got %s\nwant %s", got, tc.want)
			}
			// json.Marshal goes through MarshalJSON and must agree (it
			// may only differ by HTML escaping).
			var a, b any
			m, err := json.Marshal(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(m, &a)
			_ = json.Unmarshal(got, &b)
			if string(mustJSON(t, a)) != string(mustJSON(t, b)) {
				t.Errorf("json.Marshal = %s, body() = %s", m, got)
			}
		})
	}
}

// TestRequestExamplesRoundTrip feeds the official spec's request examples
// through ParseResetCursor and Request and compares the JSON.
func TestRequestExamplesRoundTrip(t *testing.T) {
	var ex struct {
		ResetCursor json.RawMessage
		Cursor      struct {
			Cursor string `json:"cursor"`
		}
	}
	if err := json.Unmarshal(readSample(t, "official-openapi-1.2.0-request-examples.json"), &ex); err != nil {
		t.Fatal(err)
	}
	rc, err := ParseResetCursor(string(ex.ResetCursor))
	if err != nil {
		t.Fatal(err)
	}
	body, err := Request{Reset: rc}.body()
	if err != nil {
		t.Fatal(err)
	}
	// The example has a -03:00 offset; the client sends the same instant in UTC.
	if want := `{"limit":100,"start_time":"2021-06-11T19:32:50Z"}`; string(body) != want {
		t.Errorf("reset body %s, want %s", body, want)
	}
	body, err = Request{Cursor: ex.Cursor.Cursor}.body()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"cursor":"aGVsbG8hIGlzIGl0IG1lIHlvdSBhcmUgbG9va2luZyBmb3IK"}`; string(body) != want {
		t.Errorf("cursor body %s, want %s", body, want)
	}
}
