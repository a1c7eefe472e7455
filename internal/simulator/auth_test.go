package simulator

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenVerification(t *testing.T) {
	for _, shape := range []struct {
		name, want401 string
	}{
		{ErrorShapeLegacy, `{"Error":{"Message":"Unauthorized"}}`},
		{ErrorShapeV141, `{"status":401,"message":"Unauthorized"}`},
	} {
		t.Run(shape.name, func(t *testing.T) {
			s, _ := newSim(t, Config{Seed: 1, Events: counts(5, 5, 5), ErrorShape: shape.name, RateLimitPerMinute: -1})
			other, _ := newSim(t, Config{Seed: 1})
			good := mustToken(t, s, TokenOptions{})
			revoked := mustToken(t, s, TokenOptions{})
			s.Revoke(revoked)

			tamperedPayload := func() string {
				parts := strings.Split(mustToken(t, s, TokenOptions{Features: []string{ItemUsages}}), ".")
				pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var m map[string]any
				_ = json.Unmarshal(pb, &m)
				m[ClaimFeatures] = []string{SignInAttempts, ItemUsages, AuditEvents}
				nb, _ := json.Marshal(m)
				parts[1] = base64.RawURLEncoding.EncodeToString(nb)
				return strings.Join(parts, ".")
			}()
			tamperedSig := func() string {
				parts := strings.Split(mustToken(t, s, TokenOptions{}), ".")
				sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
				sig[10] ^= 0x01
				parts[2] = base64.RawURLEncoding.EncodeToString(sig)
				return strings.Join(parts, ".")
			}()

			cases := []struct {
				name   string
				authz  string
				path   string
				method string
				want   int
			}{
				{"good", "Bearer " + good, "/api/v2/signinattempts", http.MethodPost, 200},
				{"good lowercase scheme", "bearer " + good, "/api/v1/itemusages", http.MethodPost, 200},
				{"good introspect", "Bearer " + good, "/api/v2/auth/introspect", http.MethodGet, 200},
				{"wrong alg HS256", "Bearer " + mustToken(t, s, TokenOptions{Alg: "HS256"}), "/api/v2/signinattempts", http.MethodPost, 401},
				{"alg none", "Bearer " + mustToken(t, s, TokenOptions{Alg: "none"}), "/api/v2/auth/introspect", http.MethodGet, 401},
				{"tampered payload", "Bearer " + tamperedPayload, "/api/v2/signinattempts", http.MethodPost, 401},
				{"tampered signature", "Bearer " + tamperedSig, "/api/v2/signinattempts", http.MethodPost, 401},
				{"other server's key", "Bearer " + mustToken(t, other, TokenOptions{}), "/api/v2/auditevents", http.MethodPost, 401},
				{"expired", "Bearer " + mustToken(t, s, TokenOptions{ExpiresAt: baseTime.Add(-time.Second)}), "/api/v2/auditevents", http.MethodPost, 401},
				{"expires exactly now", "Bearer " + mustToken(t, s, TokenOptions{ExpiresAt: baseTime}), "/api/v2/auditevents", http.MethodPost, 401},
				{"not yet expired", "Bearer " + mustToken(t, s, TokenOptions{ExpiresAt: baseTime.Add(time.Hour)}), "/api/v2/auditevents", http.MethodPost, 200},
				{"not yet valid", "Bearer " + mustToken(t, s, TokenOptions{IssuedAt: baseTime.Add(time.Hour)}), "/api/v2/auditevents", http.MethodPost, 401},
				{"revoked", "Bearer " + revoked, "/api/v2/itemusages", http.MethodPost, 401},
				{"revoked introspect", "Bearer " + revoked, "/api/auth/introspect", http.MethodGet, 401},
				{"missing feature", "Bearer " + mustToken(t, s, TokenOptions{Features: []string{ItemUsages, AuditEvents}}), "/api/v2/signinattempts", http.MethodPost, 401},
				{"missing feature v1", "Bearer " + mustToken(t, s, TokenOptions{Features: []string{SignInAttempts}}), "/api/v1/auditevents", http.MethodPost, 401},
				{"has feature", "Bearer " + mustToken(t, s, TokenOptions{Features: []string{SignInAttempts}}), "/api/v1/signinattempts", http.MethodPost, 200},
				{"no features events", "Bearer " + mustToken(t, s, TokenOptions{Features: []string{}}), "/api/v2/itemusages", http.MethodPost, 401},
				{"no features introspect", "Bearer " + mustToken(t, s, TokenOptions{Features: []string{}}), "/api/v2/auth/introspect", http.MethodGet, 200},
				{"deprecated audience", "Bearer " + mustToken(t, s, TokenOptions{Audience: DeprecatedAudience}), "/api/v2/auth/introspect", http.MethodGet, 401},
				{"no header", "", "/api/v2/signinattempts", http.MethodPost, 401},
				{"basic scheme", "Basic dXNlcjpwYXNz", "/api/v2/signinattempts", http.MethodPost, 401},
				{"bearer only", "Bearer ", "/api/v2/signinattempts", http.MethodPost, 401},
				{"not a jwt", "Bearer abc.def", "/api/v2/signinattempts", http.MethodPost, 401},
				{"garbage segments", "Bearer !!!.???.***", "/api/auth/introspect", http.MethodGet, 401},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					body := ""
					if tc.method == http.MethodPost {
						body = "{}"
					}
					rec := do(t, s, tc.method, tc.path, tc.authz, body)
					if rec.Code != tc.want {
						t.Fatalf("status %d, want %d (body %s)", rec.Code, tc.want, rec.Body.String())
					}
					if tc.want == 401 {
						if got := rec.Body.String(); got != shape.want401 {
							t.Errorf("body %s, want %s", got, shape.want401)
						}
						if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
							t.Errorf("Content-Type %q", ct)
						}
					}
				})
			}
		})
	}
}

func TestTokenExpiresWithClock(t *testing.T) {
	s, clk := newSim(t, Config{Seed: 1})
	tok := mustToken(t, s, TokenOptions{ExpiresAt: baseTime.Add(30 * 24 * time.Hour)})
	if c := do(t, s, http.MethodPost, "/api/v2/auditevents", "Bearer "+tok, "").Code; c != 200 {
		t.Fatalf("fresh token: %d", c)
	}
	clk.Advance(30 * 24 * time.Hour)
	if c := do(t, s, http.MethodPost, "/api/v2/auditevents", "Bearer "+tok, "").Code; c != 401 {
		t.Fatalf("expired token: %d", c)
	}
}

func TestTokenClaims(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 3})
	tok := mustToken(t, s, TokenOptions{ExpiresAt: baseTime.Add(time.Hour), Features: []string{AuditEvents}})
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["alg"] != "ES256" || hdr["typ"] != "JWT" || hdr["kid"] == "" {
		t.Errorf("header %v", hdr)
	}
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err := json.Unmarshal(pb, &c); err != nil {
		t.Fatal(err)
	}
	aud, ok := c["aud"].([]any)
	if !ok || len(aud) != 1 || aud[0] != DefaultAudience {
		t.Errorf("aud %v", c["aud"])
	}
	if fts, _ := c[ClaimFeatures].([]any); len(fts) != 1 || fts[0] != AuditEvents {
		t.Errorf("fts %v", c[ClaimFeatures])
	}
	if c[ClaimAccountUUID] != s.AccountUUID() || c["sub"] != s.IntegrationUUID() || c["iss"] != TokenIssuer {
		t.Errorf("claims %v", c)
	}
	if c["iat"] != float64(baseTime.Unix()) || c["nbf"] != float64(baseTime.Unix()) || c["exp"] != float64(baseTime.Add(time.Hour).Unix()) {
		t.Errorf("times %v %v %v", c["iat"], c["nbf"], c["exp"])
	}
	if j, _ := c["jti"].(string); len(j) != 26 {
		t.Errorf("jti %v", c["jti"])
	}
	noExp := mustToken(t, s, TokenOptions{})
	pb, _ = base64.RawURLEncoding.DecodeString(strings.Split(noExp, ".")[1])
	if strings.Contains(string(pb), `"exp"`) {
		t.Errorf("token without expiry has exp: %s", pb)
	}
	if _, err := s.IssueToken(TokenOptions{Alg: "RS256"}); err == nil {
		t.Error("unsupported alg accepted by IssueToken")
	}
}

func TestExplicitAudience(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 1, Audience: "events.example.test"})
	if a := s.Audience(); a != "events.example.test" {
		t.Fatalf("Audience %q", a)
	}
	good := mustToken(t, s, TokenOptions{})
	eu := mustToken(t, s, TokenOptions{Audience: "events.1password.eu"})
	if c := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+good, "").Code; c != 200 {
		t.Errorf("matching audience: %d", c)
	}
	if c := do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+eu, "").Code; c != 401 {
		t.Errorf("other audience: %d", c)
	}
}

func TestIntrospect(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 9})
	tok := mustToken(t, s, TokenOptions{Features: []string{AuditEvents, SignInAttempts}, AccountUUID: "ACCT5TYN2VFYRLNSHKPW5NVT5E"})

	rec := do(t, s, http.MethodGet, "/api/auth/introspect", "Bearer "+tok, "")
	if rec.Code != 200 {
		t.Fatalf("v1: %d", rec.Code)
	}
	v1 := decodeObj(t, rec.Body.Bytes())
	if k := keysOf(v1); len(k) != 3 || !k["UUID"] || !k["IssuedAt"] || !k["Features"] {
		t.Errorf("v1 keys %v", k)
	}
	if v1["UUID"] != s.IntegrationUUID() || v1["IssuedAt"] != "2025-11-01T12:00:10Z" {
		t.Errorf("v1 %v", v1)
	}
	if f, _ := v1["Features"].([]any); len(f) != 2 || f[0] != AuditEvents || f[1] != SignInAttempts {
		t.Errorf("v1 features %v", v1["Features"])
	}

	rec = do(t, s, http.MethodGet, "/api/v2/auth/introspect", "Bearer "+tok, "")
	if rec.Code != 200 {
		t.Fatalf("v2: %d", rec.Code)
	}
	v2 := decodeObj(t, rec.Body.Bytes())
	if k := keysOf(v2); len(k) != 4 || !k["uuid"] || !k["issued_at"] || !k["features"] || !k["account_uuid"] {
		t.Errorf("v2 keys %v", k)
	}
	if v2["uuid"] != s.IntegrationUUID() || v2["issued_at"] != "2025-11-01T12:00:10Z" || v2["account_uuid"] != "ACCT5TYN2VFYRLNSHKPW5NVT5E" {
		t.Errorf("v2 %v", v2)
	}
	if _, err := time.Parse(time.RFC3339, v2["issued_at"].(string)); err != nil {
		t.Error(err)
	}
}

func TestRouting(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 1})
	tok := "Bearer " + mustToken(t, s, TokenOptions{})
	cases := []struct {
		method, path, authz string
		want                int
		allow               string
	}{
		{http.MethodGet, "/", tok, 404, ""},
		{http.MethodPost, "/api/v1/unknown", tok, 404, ""},
		{http.MethodPost, "/api/v3/auditevents", tok, 404, ""},
		{http.MethodGet, "/api/v1/auth/introspect", tok, 404, ""},
		{http.MethodPost, "/api/v2/signinattempts/", tok, 404, ""},
		{http.MethodPost, "/API/V2/SIGNINATTEMPTS", tok, 404, ""},
		{http.MethodPost, "/api/v2/nothing", "", 404, ""},
		{http.MethodGet, "/api/v2/signinattempts", tok, 405, "POST"},
		{http.MethodPut, "/api/v1/itemusages", tok, 405, "POST"},
		{http.MethodDelete, "/api/v2/auditevents", "", 405, "POST"},
		{http.MethodPost, "/api/v2/auth/introspect", tok, 405, "GET"},
		{http.MethodHead, "/api/auth/introspect", tok, 405, "GET"},
	}
	for _, tc := range cases {
		rec := do(t, s, tc.method, tc.path, tc.authz, "")
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.want)
			continue
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if tc.method != http.MethodHead {
			want := `{"Error":{"Message":"` + http.StatusText(tc.want) + `"}}`
			if rec.Body.String() != want {
				t.Errorf("%s %s: body %s", tc.method, tc.path, rec.Body.String())
			}
		}
	}
}

func TestStartClose(t *testing.T) {
	s, _ := newSim(t, Config{Seed: 1, Events: counts(3, 3, 3)})
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q", base)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	host := strings.TrimPrefix(base, "http://")
	if s.Audience() != host {
		t.Errorf("Audience %q, want %q", s.Audience(), host)
	}
	tok := mustToken(t, s, TokenOptions{})
	pb, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if !strings.Contains(string(pb), `"aud":["`+host+`"]`) {
		t.Errorf("aud not the listener: %s", pb)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v2/signinattempts", strings.NewReader(`{"limit":2}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"items":[`) {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
	client.CloseIdleConnections()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := client.Get(base + "/api/v2/auth/introspect"); err == nil {
		t.Error("request after Close succeeded")
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Close succeeded")
	}
}
