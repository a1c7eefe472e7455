package recording

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/elastic/elastic-agent-libs/logp"
)

// maxRecordedBody is the largest response body that is recorded; the
// Events API client refuses bigger ones anyway (eventsapi.DefaultMaxBodyBytes).
const maxRecordedBody = 64 << 20

// Recorder writes the exchanges of every stream under one directory.
type Recorder struct {
	dir string
	log *logp.Logger
	now func() time.Time

	mu      sync.Mutex
	failing bool // the last write failed; logged once until one succeeds
}

// NewRecorder creates dir (mode 0700) if needed and checks that it accepts
// files.
func NewRecorder(dir string, log *logp.Logger) (*Recorder, error) {
	if dir == "" {
		return nil, errors.New("no directory given")
	}
	if log == nil {
		log = logp.NewNopLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the recording directory: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("the recording directory does not accept files: %w", err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &Recorder{dir: dir, log: log, now: time.Now}, nil
}

// Dir is the recording directory.
func (r *Recorder) Dir() string { return r.dir }

// Transport returns a RoundTripper that sends requests through next and
// records them as stream's exchanges. Numbering continues after the files a
// previous run left in the stream's directory.
func (r *Recorder) Transport(stream string, next http.RoundTripper) (http.RoundTripper, error) {
	if !validStreamName(stream) {
		return nil, fmt.Errorf("stream name %q cannot be a directory name", stream)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	dir := filepath.Join(r.dir, stream)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the recording directory of stream %s: %w", stream, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the recording directory of stream %s: %w", stream, err)
	}
	last := 0
	for _, e := range entries {
		if n, ok := seqOfName(e.Name()); ok && n > last {
			last = n
		}
	}
	return &recordingTransport{rec: r, stream: stream, dir: dir, next: next, seq: last}, nil
}

func validStreamName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// recordingTransport records one stream's exchanges.
type recordingTransport struct {
	rec    *Recorder
	stream string
	dir    string
	next   http.RoundTripper

	mu  sync.Mutex
	seq int
}

// RoundTrip sends req and records the exchange. A failure to record is
// logged and never fails the request.
func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	scrub := newScrubber(req.Header)
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("recording: reading the request body: %w", err)
		}
		reqBody = data
		// RoundTrip must not change req: send a copy with a fresh body.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}

	ex := &Exchange{
		Version: Version,
		Stream:  t.stream,
		Time:    t.rec.now().UTC(),
		Request: Request{
			Method: req.Method,
			URL:    scrub.string(req.URL.Redacted()),
			Header: scrub.header(req.Header, droppedRequestHeaders),
			Body:   newBody(scrub.bytes(reqBody)),
		},
	}
	resp, err := t.next.RoundTrip(req)
	ex.DurationMS = t.rec.now().Sub(ex.Time).Milliseconds()
	if err != nil {
		// A request cancelled because the beat stops is not part of what
		// the API did; a timeout (a deadline) is.
		if !errors.Is(req.Context().Err(), context.Canceled) {
			ex.Error = scrub.string(err.Error())
			t.write(ex, req.URL.Path)
		}
		return resp, err
	}

	data, readErr := io.ReadAll(io.LimitReader(resp.Body, maxRecordedBody+1))
	body := &replayBody{data: data, closer: resp.Body}
	switch {
	case readErr != nil:
		body.err = readErr
	case len(data) > maxRecordedBody:
		// Too big to keep: hand the whole body on, record none of it.
		body.rest = resp.Body
	}
	resp.Body = body
	if errors.Is(readErr, context.Canceled) {
		// Cut off by the stop, not by the API; the client judges the
		// same error the same way (eventsapi's networkError).
		return resp, nil
	}

	rb := newBody(scrub.bytes(data))
	if readErr != nil {
		rb.ReadError = scrub.string(readErr.Error())
	}
	if body.rest != nil {
		rb = Body{ReadError: fmt.Sprintf("the body exceeds %d bytes and was not recorded", maxRecordedBody)}
	}
	ex.Response = &Response{
		Status: resp.StatusCode,
		Header: scrub.header(resp.Header, droppedResponseHeaders),
		Body:   rb,
	}
	t.write(ex, req.URL.Path)
	return resp, nil
}

// write numbers ex and writes it; requests of one stream are sequential, so
// the order of the numbers is the order of the requests.
func (t *recordingTransport) write(ex *Exchange, path string) {
	t.mu.Lock()
	t.seq++
	ex.Seq = t.seq
	name := filepath.Join(t.dir, FileName(ex.Seq, path))
	t.mu.Unlock()

	data, err := Encode(ex)
	if err == nil {
		err = writeFileAtomic(name, data)
	}
	t.rec.mu.Lock()
	defer t.rec.mu.Unlock()
	if err != nil {
		if !t.rec.failing {
			t.rec.log.Errorf("recording: cannot write %s (%v); collection continues, but the recording has a gap", name, err)
		}
		t.rec.failing = true
		return
	}
	if t.rec.failing {
		t.rec.log.Infof("recording: writing to %s works again", t.rec.dir)
		t.rec.failing = false
	}
}

// writeFileAtomic creates path with data (mode 0600): a crash leaves either
// no file or the whole file, never a partial one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// replayBody serves recorded bytes, then either the rest of a live body, or
// a read error, or EOF.
type replayBody struct {
	data   []byte
	rest   io.Reader // the unread part of an unrecorded live body
	err    error     // returned once data is consumed
	closer io.Closer
}

func (b *replayBody) Read(p []byte) (int, error) {
	if len(b.data) > 0 {
		n := copy(p, b.data)
		b.data = b.data[n:]
		return n, nil
	}
	if b.rest != nil {
		return b.rest.Read(p)
	}
	if b.err != nil {
		return 0, b.err
	}
	return 0, io.EOF
}

func (b *replayBody) Close() error {
	if b.closer != nil {
		return b.closer.Close()
	}
	return nil
}
