package eventsapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTestTokenIsARealES256JWS(t *testing.T) {
	// Guards the helper: the tokens below are what a real issuer produces.
	raw := makeJWT(t, es256Header, validClaims())
	parts := strings.Split(raw, ".")
	sig, err := decodeSegment(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v, %d bytes", err, len(sig))
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&signingKey(t).PublicKey, sum[:], r, s) {
		t.Fatal("test JWT signature does not verify")
	}
}

func withClaim(k string, v any) map[string]any {
	c := validClaims()
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestParseToken(t *testing.T) {
	valid := makeJWT(t, es256Header, validClaims())
	validParts := strings.Split(valid, ".")

	type want struct {
		aud      []string
		features []string
		sub      string
		auuid    string
		iss      string
		iat, exp time.Time
		nbf      time.Time
		baseURL  string // "" means BaseURL must fail
		baseErr  string
	}
	full := want{
		aud:      []string{"events.1password.com"},
		features: []string{"signinattempts", "itemusages", "auditevents"},
		sub:      "OJQGU46KAPROEJLCK674RHSAY5",
		auuid:    "3UQOGUC7DVOCN4OZP2MDKHFLSG",
		iss:      "com.1password.b5",
		iat:      time.Unix(1700000000, 0).UTC(),
		exp:      time.Unix(1900000000, 0).UTC(),
		nbf:      time.Unix(1700000000, 0).UTC(),
		baseURL:  "https://events.1password.com",
	}
	minimal := map[string]any{"aud": "events.1password.eu", "1password.com/fts": []string{"itemusages"}}

	tests := []struct {
		name    string
		raw     string
		want    *want
		wantErr string
	}{
		{name: "valid, aud array", raw: valid, want: &full},
		{name: "surrounding whitespace is trimmed", raw: "  \n" + valid + "\r\n\t", want: &full},
		{name: "aud as a single string", raw: makeJWT(t, es256Header, minimal), want: &want{
			aud: []string{"events.1password.eu"}, features: []string{"itemusages"}, baseURL: "https://events.1password.eu",
		}},
		{name: "deprecated aud parses but has no URL", raw: makeJWT(t, es256Header, withClaim("aud", []string{DeprecatedAudience})), want: func() *want {
			w := full
			w.aud, w.baseURL, w.baseErr = []string{DeprecatedAudience}, "", "token does not have a URL; issue a new token"
			return &w
		}()},
		{name: "no aud parses but has no URL", raw: makeJWT(t, es256Header, withClaim("aud", nil)), want: func() *want {
			w := full
			w.aud, w.baseURL, w.baseErr = nil, "", "no aud claim"
			return &w
		}()},
		{name: "aud with a path is not a host", raw: makeJWT(t, es256Header, withClaim("aud", "evil.example/x")), want: func() *want {
			w := full
			w.aud, w.baseURL, w.baseErr = []string{"evil.example/x"}, "", "not a host name"
			return &w
		}()},
		{name: "fractional numeric dates", raw: makeJWT(t, es256Header, withClaim("exp", 1900000000.5)), want: func() *want {
			w := full
			w.exp = time.Unix(1900000000, 500000000).UTC()
			return &w
		}()},
		{name: "empty fts array is allowed", raw: makeJWT(t, es256Header, withClaim("1password.com/fts", []string{})), want: func() *want {
			w := full
			w.features = []string{}
			return &w
		}()},
		{name: "padded base64 is tolerated", raw: func() string {
			p := strings.Split(makeJWT(t, es256Header, minimal), ".")
			pad := func(s string) string { return s + strings.Repeat("=", (4-len(s)%4)%4) }
			return pad(p[0]) + "." + pad(p[1]) + "." + pad(p[2])
		}(), want: &want{aud: []string{"events.1password.eu"}, features: []string{"itemusages"}, baseURL: "https://events.1password.eu"}},

		{name: "empty", raw: "  ", wantErr: "token is empty"},
		{name: "HS256", raw: makeJWT(t, map[string]any{"alg": "HS256", "typ": "JWT"}, validClaims()), wantErr: "token header alg is HS256, want ES256"},
		{name: "alg none", raw: makeJWT(t, map[string]any{"alg": "none"}, validClaims()), wantErr: "token header alg is none, want ES256"},
		{name: "alg missing", raw: makeJWT(t, map[string]any{"typ": "JWT"}, validClaims()), wantErr: "token header has no alg"},
		{name: "alg not a string", raw: makeJWT(t, map[string]any{"alg": 256}, validClaims()), wantErr: "alg is not a string"},
		{name: "weird alg is not echoed", raw: makeJWT(t, map[string]any{"alg": "ES256 <script>"}, validClaims()), wantErr: "token header alg is not ES256, want ES256"},
		{name: "2 parts", raw: validParts[0] + "." + validParts[1], wantErr: "token is not a JWT: expected 3 dot-separated parts, got 2"},
		{name: "4 parts", raw: valid + ".x", wantErr: "expected 3 dot-separated parts, got 4"},
		{name: "Bearer prefix", raw: "Bearer " + valid, wantErr: "token contains whitespace"},
		{name: "header bad base64", raw: "e$J." + validParts[1] + "." + validParts[2], wantErr: "token header is not base64url"},
		{name: "claims bad base64", raw: validParts[0] + ".!!!." + validParts[2], wantErr: "token claims are not base64url"},
		{name: "signature bad base64", raw: validParts[0] + "." + validParts[1] + ".a+b/", wantErr: "token signature is not base64url"},
		{name: "truncated signature", raw: valid[:len(valid)-10], wantErr: "token signature is 57 bytes, want 64"},
		{name: "header bad JSON", raw: makeJWT(t, []byte(`{"alg":"ES256"`), validClaims()), wantErr: "token header is not a JSON object"},
		{name: "header JSON array", raw: makeJWT(t, []byte(`["ES256"]`), validClaims()), wantErr: "token header is not a JSON object"},
		{name: "claims bad JSON", raw: makeJWT(t, es256Header, []byte(`{"aud":`)), wantErr: "token claims are not a JSON object"},
		{name: "claims null", raw: makeJWT(t, es256Header, []byte(`null`)), wantErr: "token claims are not a JSON object"},
		{name: "fts missing", raw: makeJWT(t, es256Header, withClaim("1password.com/fts", nil)), wantErr: "token has no 1password.com/fts claim"},
		{name: "fts null", raw: makeJWT(t, es256Header, []byte(`{"aud":["events.1password.com"],"1password.com/fts":null}`)), wantErr: "token has no 1password.com/fts claim"},
		{name: "fts a string", raw: makeJWT(t, es256Header, withClaim("1password.com/fts", "itemusages")), wantErr: "1password.com/fts is not an array of strings"},
		{name: "aud a number", raw: makeJWT(t, es256Header, withClaim("aud", 7)), wantErr: "aud is neither a string nor an array"},
		{name: "sub a number", raw: makeJWT(t, es256Header, withClaim("sub", 12345)), wantErr: "token claim sub is not a string"},
		{name: "auuid an object", raw: makeJWT(t, es256Header, withClaim("1password.com/auuid", map[string]any{})), wantErr: "1password.com/auuid is not a string"},
		{name: "exp a string", raw: makeJWT(t, es256Header, withClaim("exp", "1900000000")), wantErr: "token claim exp is not a numeric date"},
		{name: "iat out of range", raw: makeJWT(t, es256Header, withClaim("iat", 1e300)), wantErr: "token claim iat is out of range"},
		{name: "nbf out of range int", raw: makeJWT(t, es256Header, []byte(`{"1password.com/fts":[],"nbf":99999999999999}`)), wantErr: "token claim nbf is out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := ParseToken(tc.raw)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseToken = %v, want error containing %q", tok, tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				assertOneLine(t, "error", err.Error())
				assertNoSecret(t, "error", err.Error(), strings.TrimSpace(tc.raw))
				if !tok.IsZero() {
					t.Error("failed ParseToken returned a non-zero Token")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			w := tc.want
			got := want{aud: tok.Audience, features: tok.Features, sub: tok.Subject, auuid: tok.AccountUUID, iss: tok.Issuer,
				iat: tok.IssuedAt, exp: tok.ExpiresAt, nbf: tok.NotBefore}
			cmp := *w
			cmp.baseURL, cmp.baseErr = "", ""
			if !reflect.DeepEqual(got, cmp) {
				t.Errorf("claims\n got %+v\nwant %+v", got, cmp)
			}
			if b := tok.Bearer(); b != "Bearer "+strings.TrimSpace(tc.raw) {
				t.Errorf("Bearer() does not carry the trimmed raw token")
			}
			u, err := tok.BaseURL()
			if w.baseURL != "" {
				if err != nil || u != w.baseURL {
					t.Errorf("BaseURL = %q, %v; want %q", u, err, w.baseURL)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), w.baseErr) {
					t.Errorf("BaseURL error = %v, want %q", err, w.baseErr)
				}
			}
		})
	}
}

func TestTokenHelpers(t *testing.T) {
	tok, _ := testToken(t)
	for _, f := range []string{"signinattempts", "itemusages", "auditevents"} {
		if !tok.HasFeature(f) {
			t.Errorf("HasFeature(%q) = false", f)
		}
	}
	if tok.HasFeature("vaultaccess") || tok.HasFeature("") {
		t.Error("HasFeature reports a feature the token lacks")
	}

	exp := tok.ExpiresAt
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{
		{exp.Add(-time.Nanosecond), false},
		{exp, true}, // RFC 7519: must not be accepted on or after exp
		{exp.Add(time.Hour), true},
	} {
		if got := tok.Expired(tc.now); got != tc.want {
			t.Errorf("Expired(%v) = %v, want %v", tc.now, got, tc.want)
		}
	}
	noExp, err := ParseToken(makeJWT(t, es256Header, withClaim("exp", nil)))
	if err != nil {
		t.Fatal(err)
	}
	if noExp.Expired(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a token without exp expired")
	}

	var zero Token
	if !zero.IsZero() || zero.Bearer() != "" || zero.String() != "Token(none)" {
		t.Errorf("zero Token: IsZero=%v Bearer=%q String=%q", zero.IsZero(), zero.Bearer(), zero.String())
	}
	if _, err := zero.BaseURL(); err == nil {
		t.Error("zero Token has a BaseURL")
	}
}

// TestTokenNeverPrinted covers every way a Token (or a struct holding one)
// commonly reaches a log line or a dump.
func TestTokenNeverPrinted(t *testing.T) {
	tok, raw := testToken(t)
	client, err := NewClient(Config{Token: tok, Version: "v2", HTTPClient: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BaseURL: "https://events.1password.com", Token: tok, Version: "v2"}
	holder := struct {
		Name string
		tok  Token // unexported: fmt cannot call Format on it
		ptr  *Token
	}{"x", tok, &tok}

	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10.3v"} {
		outs = append(outs,
			fmt.Sprintf(verb, tok), fmt.Sprintf(verb, &tok),
			fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg),
			fmt.Sprintf(verb, holder), fmt.Sprintf(verb, client), fmt.Sprintf(verb, *client),
			fmt.Sprintf(verb, []Token{tok}), fmt.Sprintf(verb, map[string]Token{"t": tok}),
		)
	}
	outs = append(outs, tok.String(), tok.GoString(), fmt.Sprint(tok), fmt.Sprintln(tok))

	for _, v := range []any{tok, &tok, []Token{tok}, map[string]any{"token": tok}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outs = append(outs, string(b))
	}
	var logBuf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logBuf, nil))
	logger.Info("starting", "token", tok, "ptr", &tok)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("starting", "token", tok)
	outs = append(outs, logBuf.String())

	for i, s := range outs {
		assertNoSecret(t, fmt.Sprintf("output %d", i), s, raw)
	}

	// The redacted forms still say something useful.
	if s := fmt.Sprintf("%v", tok); !strings.Contains(s, "events.1password.com") || !strings.Contains(s, "REDACTED") {
		t.Errorf("String() = %q", s)
	}
	var j map[string]any
	if err := json.Unmarshal(mustJSON(t, tok), &j); err != nil || j["token"] != "REDACTED" || j["subject"] != tok.Subject {
		t.Errorf("MarshalJSON = %v (%v)", j, err)
	}
}
