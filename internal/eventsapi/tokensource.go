package eventsapi

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// TokenSource supplies the bearer token of each request, so that a token can
// be replaced (rotated) while the client is in use.
type TokenSource interface {
	// Token returns the token to send now.
	Token() (Token, error)
	// Refresh re-reads the token from where it comes from and reports
	// whether it changed. The client calls it after a 401.
	Refresh() (changed bool, err error)
}

// StaticToken is a TokenSource that always returns t.
func StaticToken(t Token) TokenSource { return staticToken{t} }

type staticToken struct{ t Token }

func (s staticToken) Token() (Token, error)  { return s.t, nil }
func (s staticToken) Refresh() (bool, error) { return false, nil }

// maxTokenFileBytes bounds what is read of a token file: a token is about a
// kilobyte, so anything much bigger is the wrong file.
const maxTokenFileBytes = 64 << 10

// FileTokenSourceOptions are the callbacks of a FileTokenSource. Both may be
// nil. They run on the goroutine that asked for the token, after the source
// has updated itself, and must not call back into the source.
type FileTokenSourceOptions struct {
	// OnChange is called with the new token each time the file holds a new
	// valid token.
	OnChange func(Token)
	// OnError is called once per change of the file when its new content is
	// not a usable token; the previous token stays in use.
	OnError func(error)
}

// FileTokenSource reads the token from a file and reads it again whenever
// the file changes (modification time, size or the file itself, as when a
// Kubernetes secret's symlink is swapped), so a token is rotated by writing
// the new one into the file. A file that stops holding a valid token does
// not lose the last good one.
type FileTokenSource struct {
	path string
	opts FileTokenSourceOptions

	mu      sync.Mutex
	current Token
	seen    os.FileInfo // the file version last read, good or bad
}

// NewFileTokenSource reads the token at path. The error names the path and
// what is wrong, never the file's content.
func NewFileTokenSource(path string, opts FileTokenSourceOptions) (*FileTokenSource, error) {
	tok, info, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	return &FileTokenSource{path: path, opts: opts, current: tok, seen: info}, nil
}

// Token returns the file's token, reading the file again if it changed.
func (s *FileTokenSource) Token() (Token, error) {
	s.reload(false)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, nil
}

// Refresh reads the file even if it looks unchanged (a rewrite within the
// file system's timestamp granularity keeps size and time).
func (s *FileTokenSource) Refresh() (bool, error) {
	return s.reload(true)
}

func (s *FileTokenSource) reload(force bool) (bool, error) {
	s.mu.Lock()
	if !force {
		info, err := os.Stat(s.path)
		if err != nil || sameVersion(info, s.seen) {
			// A file that is briefly missing (being replaced) keeps the
			// current token; the next call looks again.
			s.mu.Unlock()
			return false, nil
		}
	}
	tok, info, err := readTokenFile(s.path)
	if err != nil {
		// Report a bad version once, not on every request.
		report := info == nil || !sameVersion(info, s.seen)
		if info != nil {
			s.seen = info
		}
		s.mu.Unlock()
		if report && s.opts.OnError != nil {
			s.opts.OnError(err)
		}
		return false, err
	}
	s.seen = info
	changed := tok.Bearer() != s.current.Bearer()
	if changed {
		s.current = tok
	}
	s.mu.Unlock()
	if changed && s.opts.OnChange != nil {
		s.opts.OnChange(tok)
	}
	return changed, nil
}

func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// readTokenFile reads and parses a token file. info describes the version
// read, when the file could be opened. Errors name the path, have no
// "eventsapi: " prefix (the caller puts the setting's name in front) and
// wrap the cause, so errors.Is(err, fs.ErrNotExist) works.
func readTokenFile(path string) (Token, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return Token{}, nil, fmt.Errorf("token file %s: %w", path, bareError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Token{}, nil, fmt.Errorf("token file %s: %w", path, bareError(err))
	}
	if info.IsDir() {
		return Token{}, info, fmt.Errorf("token file %s is a directory", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return Token{}, info, fmt.Errorf("reading token file %s: %w", path, bareError(err))
	}
	if len(data) > maxTokenFileBytes {
		return Token{}, info, fmt.Errorf("token file %s is larger than %d bytes, too big for a token", path, maxTokenFileBytes)
	}
	tok, err := ParseToken(string(data))
	if err != nil {
		return Token{}, info, fmt.Errorf("token file %s: %w", path, err)
	}
	return tok, info, nil
}

// bareError drops the operation and path of an *os.PathError, which the
// caller's message already names.
func bareError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
