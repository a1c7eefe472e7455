package simulator

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
)

// Token claim names and values used by 1Password Events tokens.
const (
	ClaimFeatures    = "1password.com/fts"
	ClaimAccountUUID = "1password.com/auuid"
	TokenIssuer      = "com.1password.b5"
	// DeprecatedAudience marks old tokens without a URL; always rejected.
	DeprecatedAudience = "com.1password.streamingservice"
)

// TokenOptions configures IssueToken.
type TokenOptions struct {
	// Features is the 1password.com/fts claim. nil means all three
	// ("signinattempts", "itemusages", "auditevents"); a non-nil empty slice
	// means none.
	Features []string
	// Audience is aud[0]; default Server.Audience().
	Audience string
	// ExpiresAt sets exp; zero means the token never expires.
	ExpiresAt time.Time
	// IssuedAt sets iat and nbf; zero means Now().
	IssuedAt time.Time
	// AccountUUID is 1password.com/auuid; default Server.AccountUUID().
	AccountUUID string
	// Alg is the JWS alg: "ES256" (default, accepted), or "HS256" / "none"
	// to get a token the server rejects. HS256 tokens are MACed with the
	// public key bytes (the classic alg-confusion attack).
	Alg string
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

type jwtClaims struct {
	Aud      []string `json:"aud"`
	Features []string `json:"1password.com/fts"`
	AUUID    string   `json:"1password.com/auuid,omitempty"`
	Sub      string   `json:"sub"`
	Iss      string   `json:"iss"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Jti      string   `json:"jti"`
	Exp      int64    `json:"exp,omitempty"`
}

// claims is a parsed, signature-verified token.
type claims struct {
	aud      []string
	features []string
	auuid    string
	sub      string
	jti      string
	iat      int64
	nbf      *int64
	exp      *int64
}

func (c *claims) has(feature string) bool {
	for _, f := range c.features {
		if f == feature {
			return true
		}
	}
	return false
}

var b64 = base64.RawURLEncoding

// IssueToken mints a JWT for this server.
func (s *Server) IssueToken(opts TokenOptions) (string, error) {
	alg := opts.Alg
	if alg == "" {
		alg = "ES256"
	}
	features := opts.Features
	if features == nil {
		features = []string{SignInAttempts, ItemUsages, AuditEvents}
	}
	aud := opts.Audience
	if aud == "" {
		aud = s.Audience()
	}
	auuid := opts.AccountUUID
	if auuid == "" {
		auuid = s.accountUUID
	}
	iat := opts.IssuedAt
	if iat.IsZero() {
		iat = s.now()
	}
	c := jwtClaims{
		Aud:      []string{aud},
		Features: append([]string{}, features...),
		AUUID:    auuid,
		Sub:      s.integrationUUID,
		Iss:      TokenIssuer,
		Iat:      iat.Unix(),
		Nbf:      iat.Unix(),
		Jti:      randomUpperID(),
	}
	if !opts.ExpiresAt.IsZero() {
		c.Exp = opts.ExpiresAt.Unix()
	}
	hdr := jwtHeader{Alg: alg, Typ: "JWT", Kid: s.kid}
	hb, err := json.Marshal(hdr)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	var sig []byte
	switch alg {
	case "ES256":
		sum := sha256.Sum256([]byte(signing))
		r, ss, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	case "HS256":
		pub, err := s.key.PublicKey.ECDH()
		if err != nil {
			return "", err
		}
		m := hmac.New(sha256.New, pub.Bytes())
		m.Write([]byte(signing))
		sig = m.Sum(nil)
	case "none":
	default:
		return "", fmt.Errorf("simulator: unsupported alg %q", alg)
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

// Revoke makes later requests with token fail with 401. Every token with the
// same jti is revoked.
func (s *Server) Revoke(token string) {
	token = strings.TrimSpace(token)
	jti := tokenJTI(token)
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	s.revokedRaw[sha256.Sum256([]byte(token))] = struct{}{}
	if jti != "" {
		s.revokedJTI[jti] = struct{}{}
	}
}

// Unrevoke undoes Revoke(token): the token (and the other tokens with its
// jti, unless revoked themselves) works again. It is a test convenience to
// simulate "the token works again" (say, an operator restored it); the real
// API cannot un-revoke a token. Unrevoking a token that is not revoked does
// nothing.
func (s *Server) Unrevoke(token string) {
	token = strings.TrimSpace(token)
	jti := tokenJTI(token)
	s.tokMu.Lock()
	defer s.tokMu.Unlock()
	delete(s.revokedRaw, sha256.Sum256([]byte(token)))
	if jti != "" {
		delete(s.revokedJTI, jti)
	}
}

// tokenJTI returns the jti claim of a JWT without verifying it ("" if none).
func tokenJTI(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Jti string `json:"jti"`
	}
	if json.Unmarshal(pb, &c) != nil {
		return ""
	}
	return c.Jti
}

var errUnauthorized = errors.New("unauthorized")

// authenticate verifies the request's bearer token. feature "" means any
// valid token.
func (s *Server) authenticate(r *http.Request, feature string, now time.Time) (*claims, error) {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, errUnauthorized
	}
	token := strings.TrimSpace(h[len(prefix):])
	c, err := s.verifyToken(token)
	if err != nil {
		return nil, err
	}
	if c.exp != nil && now.Unix() >= *c.exp {
		return nil, errUnauthorized
	}
	if c.nbf != nil && now.Unix() < *c.nbf {
		return nil, errUnauthorized
	}
	s.tokMu.Lock()
	_, revJ := s.revokedJTI[c.jti]
	_, revR := s.revokedRaw[sha256.Sum256([]byte(token))]
	s.tokMu.Unlock()
	if revJ || revR {
		return nil, errUnauthorized
	}
	if feature != "" && !c.has(feature) {
		return nil, errUnauthorized
	}
	return c, nil
}

const maxVerifiedCache = 4096

// verifyToken checks the token's structure, alg, signature and static claims.
// Time-dependent checks and revocation are done by the caller.
func (s *Server) verifyToken(token string) (*claims, error) {
	s.tokMu.Lock()
	c, ok := s.verified[token]
	s.tokMu.Unlock()
	if ok {
		return c, nil
	}
	c, err := s.parseAndVerify(token)
	if err != nil {
		return nil, err
	}
	s.tokMu.Lock()
	if len(s.verified) >= maxVerifiedCache {
		s.verified = map[string]*claims{}
	}
	s.verified[token] = c
	s.tokMu.Unlock()
	return c, nil
}

func (s *Server) parseAndVerify(token string) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errUnauthorized
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errUnauthorized
	}
	var hdr jwtHeader
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, errUnauthorized
	}
	if hdr.Alg != "ES256" {
		return nil, errUnauthorized
	}
	if hdr.Kid != "" && hdr.Kid != s.kid {
		return nil, errUnauthorized
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, errUnauthorized
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r := new(big.Int).SetBytes(sig[:32])
	ss := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&s.key.PublicKey, sum[:], r, ss) {
		return nil, errUnauthorized
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errUnauthorized
	}
	var raw struct {
		Aud      json.RawMessage `json:"aud"`
		Features []string        `json:"1password.com/fts"`
		AUUID    string          `json:"1password.com/auuid"`
		Sub      string          `json:"sub"`
		Iss      string          `json:"iss"`
		Iat      *json.Number    `json:"iat"`
		Nbf      *json.Number    `json:"nbf"`
		Exp      *json.Number    `json:"exp"`
		Jti      string          `json:"jti"`
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, errUnauthorized
	}
	c := &claims{features: raw.Features, auuid: raw.AUUID, sub: raw.Sub, jti: raw.Jti}
	// aud may be a string or an array per RFC 7519; 1Password uses an array.
	var one string
	if err := json.Unmarshal(raw.Aud, &c.aud); err != nil {
		if err := json.Unmarshal(raw.Aud, &one); err != nil {
			return nil, errUnauthorized
		}
		c.aud = []string{one}
	}
	if len(c.aud) == 0 || c.aud[0] == "" || c.aud[0] == DeprecatedAudience {
		return nil, errUnauthorized
	}
	if s.cfg.Audience != "" {
		found := false
		for _, a := range c.aud {
			if a == s.cfg.Audience {
				found = true
			}
		}
		if !found {
			return nil, errUnauthorized
		}
	}
	if raw.Iss != TokenIssuer || raw.Sub == "" {
		return nil, errUnauthorized
	}
	num := func(n *json.Number) (*int64, error) {
		if n == nil {
			return nil, nil
		}
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		v := int64(f)
		return &v, nil
	}
	iat, err := num(raw.Iat)
	if err != nil {
		return nil, errUnauthorized
	}
	if iat != nil {
		c.iat = *iat
	}
	if c.nbf, err = num(raw.Nbf); err != nil {
		return nil, errUnauthorized
	}
	if c.exp, err = num(raw.Exp); err != nil {
		return nil, errUnauthorized
	}
	return c, nil
}
