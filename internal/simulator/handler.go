package simulator

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

type route struct {
	method     string
	introspect bool
	v2         bool
	kind       int
}

// routeFor maps the eight documented paths; anything else is a 404.
func routeFor(path string) (route, bool) {
	switch path {
	case "/api/auth/introspect":
		return route{method: http.MethodGet, introspect: true}, true
	case "/api/v2/auth/introspect":
		return route{method: http.MethodGet, introspect: true, v2: true}, true
	case "/api/v1/signinattempts":
		return route{method: http.MethodPost, kind: kindSignIn}, true
	case "/api/v1/itemusages":
		return route{method: http.MethodPost, kind: kindItemUsage}, true
	case "/api/v1/auditevents":
		return route{method: http.MethodPost, kind: kindAudit}, true
	case "/api/v2/signinattempts":
		return route{method: http.MethodPost, kind: kindSignIn, v2: true}, true
	case "/api/v2/itemusages":
		return route{method: http.MethodPost, kind: kindItemUsage, v2: true}, true
	case "/api/v2/auditevents":
		return route{method: http.MethodPost, kind: kindAudit, v2: true}, true
	}
	return route{}, false
}

const otherPath = "<other>"

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serveHTTP checks, in order: path (404), method (405), token (401), rate
// limit (429), body (400).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Latency > 0 && !sleepCtx(r.Context(), s.cfg.Latency) {
		s.recordAborted()
		return
	}
	rt, ok := routeFor(r.URL.Path)
	if !ok {
		s.writeError(w, otherPath, http.StatusNotFound, nil)
		return
	}
	path := r.URL.Path
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		s.writeError(w, path, http.StatusMethodNotAllowed, nil)
		return
	}
	now := s.now()
	feature := ""
	if !rt.introspect {
		feature = kindName(rt.kind)
	}
	cl, err := s.authenticate(r, feature, now)
	if err != nil {
		s.writeError(w, path, http.StatusUnauthorized, nil)
		return
	}
	if ok, retry := s.limiter.allow(now); !ok {
		var hdr http.Header
		if s.cfg.RetryAfter {
			secs := int64((retry + time.Second - 1) / time.Second)
			hdr = http.Header{"Retry-After": {strconv.FormatInt(max(secs, 1), 10)}}
		}
		s.writeError(w, path, http.StatusTooManyRequests, hdr)
		return
	}
	if rt.introspect {
		s.serveIntrospect(w, path, rt.v2, cl)
		return
	}
	s.serveEvents(w, r, path, rt, now)
}

func (s *Server) writeError(w http.ResponseWriter, path string, status int, hdr http.Header) {
	msg := http.StatusText(status)
	var b []byte
	if s.cfg.ErrorShape == ErrorShapeV141 {
		b = append(b, `{"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, msg)
		b = append(b, '}')
	} else {
		b = append(b, `{"Error":{"Message":`...)
		b = appendJSONString(b, msg)
		b = append(b, `}}`...)
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	s.writeJSON(w, status, b)
	s.record(path, status, 0, 0)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) serveIntrospect(w http.ResponseWriter, path string, v2 bool, c *claims) {
	var b []byte
	issued := time.Unix(c.iat, 0).UTC().Format(time.RFC3339)
	features := func(b []byte) []byte {
		b = append(b, '[')
		for i, f := range c.features {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f)
		}
		return append(b, ']')
	}
	if v2 {
		b = append(b, `{"uuid":`...)
		b = appendJSONString(b, c.sub)
		b = append(b, `,"issued_at":`...)
		b = appendJSONString(b, issued)
		b = append(b, `,"features":`...)
		b = features(b)
		b = append(b, `,"account_uuid":`...)
		b = appendJSONString(b, c.auuid)
		b = append(b, '}')
	} else {
		b = append(b, `{"UUID":`...)
		b = appendJSONString(b, c.sub)
		b = append(b, `,"IssuedAt":`...)
		b = appendJSONString(b, issued)
		b = append(b, `,"Features":`...)
		b = features(b)
		b = append(b, '}')
	}
	s.writeJSON(w, http.StatusOK, b)
	s.record(path, http.StatusOK, 0, 0)
}

var errTooLarge = errors.New("body too large")

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, errTooLarge
	}
	return b, nil
}

// bufPool recycles response buffers (pages are up to ~1 MB).
type bufPool struct{ p sync.Pool }

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, path string, rt route, now time.Time) {
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, path, http.StatusBadRequest, nil)
		return
	}
	rb, err := parseBody(body)
	if err != nil {
		s.writeError(w, path, http.StatusBadRequest, nil)
		return
	}
	nowNs := now.UnixNano()
	st := s.streams[rt.kind]
	var cur cursorState
	switch {
	case rb.hasCursor && rb.hasReset() && s.mixed == MixedReject:
		s.writeError(w, path, http.StatusBadRequest, nil)
		return
	case rb.hasCursor:
		cur, err = s.decodeCursor(rb.cursor, rt.kind)
		if err != nil {
			s.writeError(w, path, http.StatusBadRequest, nil)
			return
		}
	default:
		cur = cursorState{kind: rt.kind, limit: DefaultLimit}
		if rb.hasLimit {
			cur.limit = rb.limit
		}
		start := now.Add(-time.Hour)
		if rb.hasEnd {
			cur.hasEnd, cur.end = true, safeNanos(rb.end)
			start = rb.end.Add(-time.Hour)
		}
		if rb.hasStart {
			start = rb.start
		}
		if rb.hasEnd && start.After(rb.end) {
			s.writeError(w, path, http.StatusBadRequest, nil)
			return
		}
		startNs := max(safeNanos(start), nowNs-int64(DataWindow))
		cur.pos = st.lowerBound(startNs)
	}

	// Visible window: [now-120d, min(now, end)].
	pos := max(cur.pos, st.lowerBound(nowNs-int64(DataWindow)))
	upper := nowNs
	if cur.hasEnd && cur.end < upper {
		upper = cur.end
	}
	hi := int64(st.upperBound(upper))
	end := pos
	if hi > pos {
		end = min(pos+int64(cur.limit), hi)
	}
	next := cur
	next.pos = end

	bp, _ := s.bufs.p.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	b = append(b, `{"cursor":"`...)
	b = append(b, s.encodeCursor(next)...)
	if end < hi {
		b = append(b, `","has_more":true,"items":[`...)
	} else {
		b = append(b, `","has_more":false,"items":[`...)
	}
	var e event
	for i := pos; i < end; i++ {
		if i > pos {
			b = append(b, ',')
		}
		s.genEvent(&e, rt.kind, int(i))
		b = s.appendEvent(b, &e, rt.v2)
	}
	b = append(b, `]}`...)
	s.writeJSON(w, http.StatusOK, b)
	if cap(b) <= 4<<20 {
		*bp = b
		s.bufs.p.Put(bp)
	}
	s.record(path, http.StatusOK, int(end-pos), rt.kind)
}
