package eventsapi

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tokenWithJTI returns a valid raw token that differs from others only in
// its jti (so all have the same length).
func tokenWithJTI(t *testing.T, jti string) string {
	t.Helper()
	c := validClaims()
	c["jti"] = jti
	return makeJWT(t, es256Header, c)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNewFileTokenSourceErrors(t *testing.T) {
	dir := t.TempDir()
	valid := tokenWithJTI(t, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
	secretish := strings.Repeat("s3cr3t", 10)
	cases := []struct {
		name    string
		setup   func(path string)
		wantErr string // "" means valid
	}{
		{"valid with newline", func(p string) { writeFile(t, p, valid+"\n") }, ""},
		{"valid with spaces around", func(p string) { writeFile(t, p, "  "+valid+"\r\n\n") }, ""},
		{"missing", func(string) {}, "no such file"},
		{"empty", func(p string) { writeFile(t, p, "\n") }, "token is empty"},
		{"directory", func(p string) { os.Mkdir(p, 0o700) }, "is a directory"},
		{"not a JWT", func(p string) { writeFile(t, p, secretish) }, "not a JWT"},
		{"two lines", func(p string) { writeFile(t, p, valid+"\n"+valid+"\n") }, "whitespace"},
		{"too big", func(p string) { writeFile(t, p, strings.Repeat("a", maxTokenFileBytes+1)) }, "larger than"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "token"+string(rune('a'+i)))
			tc.setup(path)
			src, err := NewFileTokenSource(path, FileTokenSourceOptions{})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tok, _ := src.Token()
				if tok.Bearer() != "Bearer "+valid {
					t.Fatal("the file's token was not read")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, path) {
				t.Errorf("error %q should contain %q and the path", msg, tc.wantErr)
			}
			if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, valid[:40]) {
				t.Errorf("error quotes the file's content: %q", msg)
			}
			assertOneLine(t, "error", msg)
		})
	}
}

func TestFileTokenSourceRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	first := tokenWithJTI(t, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
	second := tokenWithJTI(t, "BBBBBBBBBBBBBBBBBBBBBBBBBB")
	third := tokenWithJTI(t, "CCCCCCCCCCCCCCCCCCCCCCCCCC")
	writeFile(t, path, first)

	var changes, problems []string
	src, err := NewFileTokenSource(path, FileTokenSourceOptions{
		OnChange: func(tok Token) { changes = append(changes, tok.Bearer()) },
		OnError:  func(err error) { problems = append(problems, err.Error()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	current := func() string {
		t.Helper()
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(tok.Bearer(), "Bearer ")
	}
	if current() != first || len(changes) != 0 {
		t.Fatal("the first token should be in use without a change")
	}

	// A new token with a new modification time is picked up by Token.
	writeFile(t, path, second)
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
	if current() != second || len(changes) != 1 {
		t.Fatalf("rotation not picked up: changes %d", len(changes))
	}

	// Garbage keeps the last good token and is reported once.
	writeFile(t, path, "not-a-token")
	os.Chtimes(path, later.Add(time.Minute), later.Add(time.Minute))
	for range 3 {
		if current() != second {
			t.Fatal("a bad file replaced the good token")
		}
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "not a JWT") {
		t.Fatalf("problems %q, want one not-a-JWT report", problems)
	}

	// A rewrite that keeps size and time is invisible to Token, but
	// Refresh (what the client does on a 401) reads it.
	writeFile(t, path, third)
	os.Chtimes(path, later, later)
	writeFile(t, path, second)
	os.Chtimes(path, later, later)
	current()
	writeFile(t, path, third)
	os.Chtimes(path, later, later)
	if current() != second {
		t.Fatal("an unchanged stamp should not re-read the file")
	}
	changed, err := src.Refresh()
	if err != nil || !changed || current() != third {
		t.Fatalf("Refresh = %v, %v; want the third token", changed, err)
	}
	if changed, _ := src.Refresh(); changed {
		t.Fatal("a second Refresh of the same file reports a change")
	}

	// A missing file (mid-replacement) keeps the token.
	os.Remove(path)
	if current() != third {
		t.Fatal("a missing file dropped the token")
	}
}

// TestClientReportsA401ToAReplacedToken: a 401 to a token that the file
// has replaced since comes back as ErrTokenChanged after one request (the
// client sends nothing the caller did not budget and count), and the
// caller's repeat carries the new token.
func TestClientReportsA401ToAReplacedToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	old := tokenWithJTI(t, "AAAAAAAAAAAAAAAAAAAAAAAAAA")
	fresh := tokenWithJTI(t, "BBBBBBBBBBBBBBBBBBBBBBBBBB")
	writeFile(t, path, old)
	src, err := NewFileTokenSource(path, FileTokenSourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	accepted := "Bearer " + fresh
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.Header.Get("Authorization") != accepted {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"Error":{"Message":"Unauthorized"}}`))
			return
		}
		w.Write([]byte(`{"cursor":"c1","has_more":false,"items":[]}`))
	}, func(cfg *Config) { cfg.Tokens = src })

	// The token is unchanged: the 401 is returned after one request.
	_, err = c.Fetch(context.Background(), "itemusages", Request{})
	if KindOf(err) != KindUnauthorized || requests.Load() != 1 {
		t.Fatalf("err %v after %d requests; want a 401 after 1", err, requests.Load())
	}

	if errors.Is(err, ErrTokenChanged) || Retryable(err) {
		t.Fatalf("a 401 to an unchanged token is reported as %v", err)
	}

	// Rotated with the same size and modification time, so only the
	// refresh after the 401 sees it: the 401 comes back as "token changed",
	// retryable, after one request.
	info, _ := os.Stat(path)
	writeFile(t, path, fresh)
	os.Chtimes(path, info.ModTime(), info.ModTime())
	requests.Store(0)
	_, err = c.Fetch(context.Background(), "itemusages", Request{})
	if !errors.Is(err, ErrTokenChanged) || errors.Is(err, ErrUnauthorized) || !Retryable(err) || requests.Load() != 1 {
		t.Fatalf("err %v after %d requests; want ErrTokenChanged after 1", err, requests.Load())
	}
	if strings.Contains(err.Error(), old) || strings.Contains(err.Error(), fresh) {
		t.Fatal("the error contains a token")
	}

	// From then on the new token goes out first time.
	requests.Store(0)
	if _, err := c.Fetch(context.Background(), "itemusages", Request{}); err != nil || requests.Load() != 1 {
		t.Fatalf("err %v after %d requests", err, requests.Load())
	}
}
