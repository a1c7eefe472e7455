package eventsapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DeprecatedAudience is the aud claim of old Events API tokens that do not
// name their events host. 1Password's own clients refuse them too.
const DeprecatedAudience = "com.1password.streamingservice"

const (
	claimAudience    = "aud"
	claimFeatures    = "1password.com/fts"
	claimAccountUUID = "1password.com/auuid"
	claimSubject     = "sub"
	claimIssuer      = "iss"
	claimIssuedAt    = "iat"
	claimExpiresAt   = "exp"
	claimNotBefore   = "nbf"

	redacted = "REDACTED"

	// es256SigLen is the size of an ES256 JWS signature (R||S, 32 bytes
	// each, RFC 7518 §3.4). Checking it catches tokens truncated by a
	// copy and paste before the server answers 401.
	es256SigLen = 64

	// NumericDate bounds: years 0001 to 9999, so time.Unix never overflows.
	minNumericDate = -62135596800
	maxNumericDate = 253402300799
)

// Token is a parsed Events API bearer token (a JWT-SA). Its claims are
// informational: the signature is not verified, because clients have no
// public key and the server verifies it anyway.
//
// The raw token sits behind a pointer so that even reflection-based printing
// of a struct that holds a Token in an unexported field (where fmt cannot
// call Format) shows only an address. Token's own formatting, String,
// GoString, LogValue and MarshalJSON always redact it.
type Token struct {
	Audience    []string
	Features    []string
	Subject     string
	AccountUUID string
	Issuer      string
	IssuedAt    time.Time // zero if absent
	ExpiresAt   time.Time // zero if absent (the token never expires)
	NotBefore   time.Time // zero if absent

	raw *string
}

// tokenError is a one-line token problem. It never contains the token.
// It has no "eventsapi: " prefix: callers put the setting's name in front.
func tokenError(format string, args ...any) error {
	return errors.New(fmt.Sprintf(format, args...))
}

// ParseToken parses an Events API token without verifying its signature.
// Surrounding whitespace is trimmed. Errors say what is wrong and never
// contain the token or any part of it.
func ParseToken(raw string) (Token, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Token{}, tokenError("token is empty")
	}
	if strings.IndexFunc(raw, unicode.IsSpace) >= 0 {
		return Token{}, tokenError("token contains whitespace; give the bare token without a \"Bearer\" prefix")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Token{}, tokenError("token is not a JWT: expected 3 dot-separated parts, got %d", len(parts))
	}
	headerJSON, err := decodeSegment(parts[0])
	if err != nil {
		return Token{}, tokenError("token header is not base64url")
	}
	claimsJSON, err := decodeSegment(parts[1])
	if err != nil {
		return Token{}, tokenError("token claims are not base64url")
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return Token{}, tokenError("token signature is not base64url")
	}

	var header map[string]json.RawMessage
	if err := json.Unmarshal(headerJSON, &header); err != nil || header == nil {
		return Token{}, tokenError("token header is not a JSON object")
	}
	algJSON, ok := header["alg"]
	if !ok {
		return Token{}, tokenError("token header has no alg, want ES256")
	}
	var alg string
	if err := json.Unmarshal(algJSON, &alg); err != nil {
		return Token{}, tokenError("token header alg is not a string, want ES256")
	}
	if alg != "ES256" {
		return Token{}, tokenError("token header alg is %s, want ES256", describeAlg(alg))
	}
	// Checked after alg so an HS256 token gets the more useful message.
	if len(sig) != es256SigLen {
		return Token{}, tokenError("token signature is %d bytes, want %d for ES256 (is the token truncated?)", len(sig), es256SigLen)
	}

	var claims map[string]json.RawMessage
	if err := json.Unmarshal(claimsJSON, &claims); err != nil || claims == nil {
		return Token{}, tokenError("token claims are not a JSON object")
	}
	var t Token
	if t.Audience, err = audienceClaim(claims[claimAudience]); err != nil {
		return Token{}, err
	}
	fts, ok := claims[claimFeatures]
	if !ok || isNull(fts) {
		return Token{}, tokenError("token has no %s claim (features); it is not an Events API token", claimFeatures)
	}
	if err := json.Unmarshal(fts, &t.Features); err != nil {
		return Token{}, tokenError("token claim %s is not an array of strings", claimFeatures)
	}
	for _, c := range []struct {
		name string
		dst  *string
	}{
		{claimSubject, &t.Subject},
		{claimAccountUUID, &t.AccountUUID},
		{claimIssuer, &t.Issuer},
	} {
		if err := stringClaim(claims, c.name, c.dst); err != nil {
			return Token{}, err
		}
	}
	for _, c := range []struct {
		name string
		dst  *time.Time
	}{
		{claimIssuedAt, &t.IssuedAt},
		{claimExpiresAt, &t.ExpiresAt},
		{claimNotBefore, &t.NotBefore},
	} {
		if err := dateClaim(claims, c.name, c.dst); err != nil {
			return Token{}, err
		}
	}
	t.raw = &raw
	return t, nil
}

// decodeSegment decodes a base64url JWS segment. Padding is tolerated, as
// go-jose (used by 1Password's clients) does.
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// describeAlg names an unexpected alg only if it looks like an algorithm
// name, so an error can never echo arbitrary header content.
func describeAlg(alg string) string {
	if alg == "" || len(alg) > 16 {
		return "not ES256"
	}
	for _, r := range alg {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "not ES256"
		}
	}
	return alg
}

func isNull(v json.RawMessage) bool { return strings.TrimSpace(string(v)) == "null" }

func audienceClaim(v json.RawMessage) ([]string, error) {
	if v == nil || isNull(v) {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		return []string{one}, nil // RFC 7519 §4.1.3 allows a single string
	}
	var many []string
	if err := json.Unmarshal(v, &many); err != nil {
		return nil, tokenError("token claim aud is neither a string nor an array of strings")
	}
	return many, nil
}

func stringClaim(claims map[string]json.RawMessage, name string, dst *string) error {
	v, ok := claims[name]
	if !ok || isNull(v) {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return tokenError("token claim %s is not a string", name)
	}
	return nil
}

func dateClaim(claims map[string]json.RawMessage, name string, dst *time.Time) error {
	v, ok := claims[name]
	if !ok || isNull(v) {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil || !isJSONNumber(v) {
		return tokenError("token claim %s is not a numeric date", name)
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i < minNumericDate || i > maxNumericDate {
			return tokenError("token claim %s is out of range", name)
		}
		*dst = time.Unix(i, 0).UTC()
		return nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < minNumericDate || f > maxNumericDate {
		return tokenError("token claim %s is out of range", name)
	}
	sec, frac := math.Modf(f)
	*dst = time.Unix(int64(sec), int64(frac*1e9)).UTC()
	return nil
}

// isJSONNumber rejects a quoted number, which json.Number would accept.
func isJSONNumber(v json.RawMessage) bool {
	s := strings.TrimSpace(string(v))
	return s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// IsZero reports whether t is the zero Token (not parsed from anything).
func (t Token) IsZero() bool { return t.raw == nil }

// HasFeature reports whether the token's 1password.com/fts claim grants
// feature (signinattempts, itemusages, auditevents).
func (t Token) HasFeature(feature string) bool {
	for _, f := range t.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// BaseURL is the events host the token was issued for: "https://" + aud[0],
// the way 1Password's own clients pick the region.
func (t Token) BaseURL() (string, error) {
	if len(t.Audience) == 0 || t.Audience[0] == "" {
		return "", tokenError("token has no aud claim, so it does not name its events host; set the base URL")
	}
	host := t.Audience[0]
	if host == DeprecatedAudience {
		return "", tokenError("token does not have a URL; issue a new token")
	}
	u, err := url.Parse("https://" + host)
	if err != nil || u.Host != host || u.User != nil || u.Hostname() == "" {
		return "", tokenError("token aud[0] is not a host name; set the base URL")
	}
	return "https://" + host, nil
}

// Expired reports whether the token's exp is at or before now (RFC 7519
// §4.1.4). A token without exp never expires.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Bearer is the Authorization header value. Use it for nothing else.
func (t Token) Bearer() string {
	if t.raw == nil {
		return ""
	}
	return "Bearer " + *t.raw
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// String describes the token's claims with the token itself redacted.
func (t Token) String() string {
	if t.raw == nil {
		return "Token(none)"
	}
	return fmt.Sprintf("Token(aud=%q fts=%q sub=%q auuid=%q iss=%q iat=%s exp=%s nbf=%s token=%s)",
		t.Audience, t.Features, t.Subject, t.AccountUUID, t.Issuer,
		fmtTime(t.IssuedAt), fmtTime(t.ExpiresAt), fmtTime(t.NotBefore), redacted)
}

// GoString is used by %#v.
func (t Token) GoString() string { return "eventsapi." + t.String() }

// Format makes every verb (%v, %+v, %#v, %s, %q, %x, ...) print the redacted
// form; without it %x or %+v would print the raw field through reflection.
func (t Token) Format(f fmt.State, verb rune) {
	s := t.String()
	switch {
	case verb == 'v' && f.Flag('#'):
		s = t.GoString()
	case verb == 'q':
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue redacts the token in log/slog output.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// tokenJSON is the redacted JSON form of a Token.
type tokenJSON struct {
	Audience    []string   `json:"audience,omitempty"`
	Features    []string   `json:"features,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	AccountUUID string     `json:"account_uuid,omitempty"`
	Issuer      string     `json:"issuer,omitempty"`
	IssuedAt    *time.Time `json:"issued_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	NotBefore   *time.Time `json:"not_before,omitempty"`
	Token       string     `json:"token"`
}

// MarshalJSON returns the claims and "REDACTED" in place of the token, so a
// config or state dump never leaks it.
func (t Token) MarshalJSON() ([]byte, error) {
	opt := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	j := tokenJSON{
		Audience: t.Audience, Features: t.Features, Subject: t.Subject,
		AccountUUID: t.AccountUUID, Issuer: t.Issuer,
		IssuedAt: opt(t.IssuedAt), ExpiresAt: opt(t.ExpiresAt), NotBefore: opt(t.NotBefore),
	}
	if t.raw != nil {
		j.Token = redacted
	}
	return json.Marshal(j)
}
