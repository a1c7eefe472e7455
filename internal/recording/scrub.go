package recording

import (
	"net/http"
	"sort"
	"strings"
)

// redacted replaces a secret in a recording.
const redacted = "REDACTED"

// minSecretPart is the shortest part of a token that is scrubbed on its
// own: an echo may hold only a segment of the JWT, while shorter pieces
// are too likely to match ordinary text.
const minSecretPart = 16

// droppedRequestHeaders and droppedResponseHeaders are never recorded.
var (
	droppedRequestHeaders  = []string{"Authorization", "Proxy-Authorization", "Cookie"}
	droppedResponseHeaders = []string{"Set-Cookie"}
)

// scrubber removes the credentials a request carried from everything that
// is written about it.
type scrubber struct {
	secrets []string // longest first, so a part never splits a whole
}

// newScrubber collects the credentials of h: the value of each credential
// header, its bearer token, and the token's long dot-separated segments.
func newScrubber(h http.Header) *scrubber {
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= minSecretPart && !seen[s] {
			seen[s] = true
		}
	}
	for _, name := range droppedRequestHeaders {
		for _, v := range h.Values(name) {
			v = strings.TrimSpace(v)
			add(v)
			if scheme, cred, ok := strings.Cut(v, " "); ok && scheme != "" {
				cred = strings.TrimSpace(cred)
				add(cred)
				for _, part := range strings.Split(cred, ".") {
					add(part)
				}
			}
		}
	}
	s := &scrubber{}
	for k := range seen {
		s.secrets = append(s.secrets, k)
	}
	sort.Slice(s.secrets, func(i, j int) bool { return len(s.secrets[i]) > len(s.secrets[j]) })
	return s
}

func (s *scrubber) string(v string) string {
	for _, secret := range s.secrets {
		v = strings.ReplaceAll(v, secret, redacted)
	}
	return v
}

func (s *scrubber) bytes(b []byte) []byte {
	if len(s.secrets) == 0 {
		return b
	}
	str := string(b)
	if out := s.string(str); out != str {
		return []byte(out)
	}
	return b
}

// header copies h without the dropped names and with secrets scrubbed.
func (s *scrubber) header(h http.Header, drop []string) http.Header {
	if len(h) == 0 {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		if dropped(k, drop) {
			continue
		}
		cp := make([]string, len(vs))
		for i, v := range vs {
			cp[i] = s.string(v)
		}
		out[s.string(k)] = cp
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func dropped(name string, drop []string) bool {
	for _, d := range drop {
		if strings.EqualFold(name, d) {
			return true
		}
	}
	return false
}
