package recording

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files to the recording parser: it never panics,
// every error is one line naming the file, and whatever it accepts encodes
// and parses again to the same request key and outcome.
func FuzzParse(f *testing.F) {
	ok, _ := Encode(&Exchange{Version: 1, Stream: "signin_attempts", Seq: 1,
		Request:  Request{Method: "POST", URL: "https://events.1password.com/api/v2/signinattempts", Header: http.Header{"Content-Type": {"application/json"}}, Body: newBody([]byte(`{"cursor":"abc"}`))},
		Response: &Response{Status: 200, Body: newBody([]byte(`{"cursor":"def","has_more":false,"items":[]}`))}})
	for _, seed := range []string{
		string(ok),
		`{"version":1,"stream":"s","seq":1,"request":{"method":"GET","url":"/api/v2/auth/introspect"},"error":"EOF"}`,
		`{"version":1,"stream":"s","seq":1,"request":{"method":"GET","url":"/x"},"response":{"status":200,"body_base64":"/w=="}}`,
		`{"version":1,"stream":"s","seq":1,"request":{"method":"GET","url":"/x"},"response":{"status":502,"body_text":"<html>","body_error":"unexpected EOF"}}`,
		`{"version":2}`,
		`{"version":1,"stream":"s","seq":1,"request":{"method":"POST","url":"%zz"},"error":"x"}`,
		`[]`, `null`, `{"version":1e400}`, "\xff", "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "/rec/s/000001-x.json"
		ex, err := Parse(name, data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "recording file "+name+": ") {
				t.Fatalf("error %q does not name the file first", msg)
			}
			if strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error is not one line: %q", msg)
			}
			return
		}
		again, err := Encode(ex)
		if err != nil {
			t.Fatalf("an accepted exchange does not encode: %v", err)
		}
		back, err := Parse(name, again)
		if err != nil {
			t.Fatalf("an accepted exchange does not parse after encoding: %v", err)
		}
		k1 := requestKey(ex.Request.Method, ex.Request.URL, ex.Request.Bytes())
		k2 := requestKey(back.Request.Method, back.Request.URL, back.Request.Bytes())
		if k1 != k2 || back.Error != ex.Error || (back.Response == nil) != (ex.Response == nil) {
			t.Fatalf("round trip changed the exchange: key %q -> %q, error %q -> %q", k1, k2, ex.Error, back.Error)
		}
	})
}
