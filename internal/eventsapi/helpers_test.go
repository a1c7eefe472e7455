package eventsapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// samplesDir holds the third-party API samples kept in the repository.
const samplesDir = "../../testdata/conformance/api-samples"

var (
	keyOnce sync.Once
	testKey *ecdsa.PrivateKey
)

func signingKey(t testing.TB) *ecdsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func b64(v []byte) string { return base64.RawURLEncoding.EncodeToString(v) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// makeJWT builds a real ES256 JWS (R||S signature, RFC 7518 §3.4) over the
// given header and claims. Values that are []byte are used as the raw
// segment JSON, so tests can build malformed tokens.
func makeJWT(t testing.TB, header, claims any) string {
	t.Helper()
	seg := func(v any) string {
		if b, ok := v.([]byte); ok {
			return b64(b)
		}
		return b64(mustJSON(t, v))
	}
	input := seg(header) + "." + seg(claims)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, signingKey(t), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64(sig)
}

var es256Header = map[string]any{"alg": "ES256", "kid": "test-key", "typ": "JWT"}

func validClaims() map[string]any {
	return map[string]any{
		"aud":                 []string{"events.1password.com"},
		"1password.com/fts":   []string{"signinattempts", "itemusages", "auditevents"},
		"1password.com/auuid": "3UQOGUC7DVOCN4OZP2MDKHFLSG",
		"sub":                 "OJQGU46KAPROEJLCK674RHSAY5",
		"iss":                 "com.1password.b5",
		"iat":                 1700000000,
		"exp":                 1900000000,
		"nbf":                 1700000000,
		"jti":                 "HGIF4OEWXDTVWKEQDIWTKV26HU",
	}
}

// testToken returns a valid parsed token and its raw form.
func testToken(t testing.TB) (Token, string) {
	t.Helper()
	raw := makeJWT(t, es256Header, validClaims())
	tok, err := ParseToken(raw)
	if err != nil {
		t.Fatalf("ParseToken(valid): %v", err)
	}
	return tok, raw
}

// assertNoSecret fails if s contains the raw token or any of its segments
// longer than 8 bytes.
func assertNoSecret(t testing.TB, what, s, raw string) {
	t.Helper()
	if raw == "" {
		return
	}
	if strings.Contains(s, raw) {
		t.Errorf("%s contains the raw token: %q", what, s)
		return
	}
	for i, part := range strings.Split(raw, ".") {
		if len(part) > 8 && strings.Contains(s, part) {
			t.Errorf("%s contains token segment %d: %q", what, i, s)
		}
	}
}

func assertOneLine(t testing.TB, what, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\r\n\x00\x1b") {
		t.Errorf("%s is not one clean line: %q", what, s)
	}
}

// readSample returns a conformance sample.
func readSample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
