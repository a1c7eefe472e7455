package recording

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/elastic/elastic-agent-libs/logp"
)

// Replay answers one stream's requests from its recording. It is an
// http.RoundTripper that never uses the network; it is safe for concurrent
// use.
type Replay struct {
	stream string
	dir    string
	log    *logp.Logger

	mu     sync.Mutex
	byKey  map[string][]*Exchange // in recorded order
	used   map[string]int         // how many of byKey[k] were served
	total  int
	ranOut bool // the "no more answers" line was logged
}

// LoadStream reads and checks the recording of stream under dir. Every
// error is one line naming the directory or the file.
func LoadStream(dir, stream string, log *logp.Logger) (*Replay, error) {
	if log == nil {
		log = logp.NewNopLogger()
	}
	if !validStreamName(stream) {
		return nil, fmt.Errorf("stream name %q cannot be a directory name", stream)
	}
	sdir := filepath.Join(dir, stream)
	info, err := os.Stat(sdir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s holds no recording of stream %s (no directory %s)", dir, stream, sdir)
		}
		return nil, fmt.Errorf("recording of stream %s: %w", stream, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("recording of stream %s: %s is not a directory", stream, sdir)
	}
	entries, err := os.ReadDir(sdir)
	if err != nil {
		return nil, fmt.Errorf("recording of stream %s: %w", stream, err)
	}
	type file struct {
		seq  int
		path string
	}
	var files []file
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(sdir, name)
		if strings.HasPrefix(name, ".") {
			continue // temporary files of an interrupted write
		}
		seq, ok := seqOfName(name)
		if !ok || !e.Type().IsRegular() {
			return nil, fmt.Errorf("recording file %s: not a recording file (a recording directory holds only NNNNNN-<endpoint>.json files)", path)
		}
		if other, dup := seen[seq]; dup {
			return nil, fmt.Errorf("recording file %s: number %d is also the number of %s", path, seq, other)
		}
		seen[seq] = name
		files = append(files, file{seq, path})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("recording of stream %s: %s holds no exchanges", stream, sdir)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].seq < files[j].seq })

	r := &Replay{stream: stream, dir: sdir, log: log, byKey: map[string][]*Exchange{}, used: map[string]int{}}
	for _, f := range files {
		ex, err := readExchange(f.path)
		if err != nil {
			return nil, err
		}
		if ex.Stream != stream {
			return nil, fmt.Errorf("recording file %s: belongs to stream %s, not %s", f.path, clip(ex.Stream), stream)
		}
		if ex.Seq != f.seq {
			return nil, fmt.Errorf("recording file %s: holds exchange %d, not %d as its name says", f.path, ex.Seq, f.seq)
		}
		k := requestKey(ex.Request.Method, ex.Request.URL, ex.Request.Bytes())
		r.byKey[k] = append(r.byKey[k], ex)
		r.total++
	}
	return r, nil
}

func readExchange(path string) (*Exchange, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("recording file %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("recording file %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("recording file %s: larger than %d bytes", path, maxFileBytes)
	}
	return Parse(path, data)
}

// Exchanges is the number of recorded exchanges.
func (r *Replay) Exchanges() int { return r.total }

// Dir is the stream's recording directory.
func (r *Replay) Dir() string { return r.dir }

// requestKey identifies what a request asks for: method, endpoint (the path
// from /api/ on, so that neither the host nor a proxy prefix matters) and
// the request body's cursor, or "reset" for a POST without one.
func requestKey(method, rawURL string, body []byte) string {
	return method + " " + endpoint(rawURL) + " " + bodyKey(method, body)
}

func endpoint(rawURL string) string {
	p := rawURL
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = "/"
		}
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if i := strings.LastIndex(p, "/api/"); i >= 0 {
		p = p[i:]
	}
	return p
}

func bodyKey(method string, body []byte) string {
	if method != http.MethodPost {
		return ""
	}
	if cursor, ok := requestCursor(body); ok {
		return "cursor=" + strconv.Quote(cursor)
	}
	var obj map[string]json.RawMessage
	if len(bytes.TrimSpace(body)) == 0 || json.Unmarshal(body, &obj) == nil && obj != nil {
		return "reset"
	}
	return "raw=" + strconv.Quote(string(body))
}

// requestCursor returns the cursor of a page request body.
func requestCursor(body []byte) (string, bool) {
	var req struct {
		Cursor *string `json:"cursor"`
	}
	if json.Unmarshal(body, &req) != nil || req.Cursor == nil || *req.Cursor == "" {
		return "", false
	}
	return *req.Cursor, true
}

// RoundTrip answers req from the recording.
func (r *Replay) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("replay: reading the request body: %w", err)
		}
		body = data
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	ex, err := r.next(req, body)
	if err != nil {
		return nil, err
	}
	if ex.Error != "" {
		return nil, fmt.Errorf("replayed from %s: %s", FileName(ex.Seq, req.URL.Path), ex.Error)
	}
	return response(req, ex.Response), nil
}

// next picks the answer to a request; see the package documentation.
func (r *Replay) next(req *http.Request, body []byte) (*Exchange, error) {
	key := requestKey(req.Method, req.URL.String(), body)
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byKey[key]
	if i := r.used[key]; i < len(list) {
		r.used[key] = i + 1
		return list[i], nil
	}
	ep := endpoint(req.URL.String())
	if req.Method == http.MethodGet && len(list) > 0 {
		return list[len(list)-1], nil
	}
	if cursor, ok := requestCursor(body); ok && req.Method == http.MethodPost {
		if !r.ranOut {
			r.ranOut = true
			r.log.Infof("replay: the recording of stream %s (%s) has no more answers (first at POST %s with the cursor the recording ended on); answering with empty pages (has_more: false), so the stream idles as if caught up", r.stream, r.dir, ep)
		}
		page, _ := json.Marshal(map[string]any{"cursor": cursor, "has_more": false, "items": []any{}})
		return &Exchange{Response: &Response{
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   Body{JSON: page},
		}}, nil
	}
	what := req.Method + " " + ep
	if req.Method == http.MethodPost {
		what += " without a cursor (the first request of a stream that has no state)"
		return nil, fmt.Errorf(`replay: the recording of stream %s in %s has no answer for %s; the recorded run continued from a state file, so replay from a copy of that state file: save it as %s.replay.state in the replay's state directory (replay_state_dir, default replay_dir) with "replay": true added`, r.stream, r.dir, what, r.stream)
	}
	return nil, fmt.Errorf("replay: the recording of stream %s in %s has no answer for %s", r.stream, r.dir, what)
}

// response builds the http.Response of a recorded one.
func response(req *http.Request, rec *Response) *http.Response {
	data := rec.Bytes()
	if rec.JSON != nil {
		// Undo the recording's indentation.
		var buf bytes.Buffer
		if json.Compact(&buf, data) == nil {
			data = buf.Bytes()
		}
	}
	var readErr error
	if rec.ReadError != "" {
		readErr = errors.New(rec.ReadError)
	}
	h := rec.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	length := int64(len(data))
	if readErr != nil {
		length = -1
	}
	h.Del("Content-Length")
	return &http.Response{
		Status:        strconv.Itoa(rec.Status) + " " + http.StatusText(rec.Status),
		StatusCode:    rec.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          &replayBody{data: data, err: readErr},
		ContentLength: length,
		Request:       req,
	}
}

// PlaceholderToken is a syntactically valid Events API token for replay: it
// grants features, names the reserved host replay.invalid (so nothing could
// ever reach a network with it) and is not secret. Replay needs no real
// token; the client still wants one to build its requests.
func PlaceholderToken(features ...string) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": "replay"})
	if features == nil {
		features = []string{}
	}
	claims, _ := json.Marshal(map[string]any{
		"aud":               []string{"replay.invalid"},
		"sub":               "eventsapibeat-replay",
		"iss":               "eventsapibeat-replay",
		"1password.com/fts": features,
	})
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(make([]byte, 64))
}
