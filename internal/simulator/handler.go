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

// serveHTTP checks, in order: path (404), method (405), injected faults
// (events endpoints only, see Faults), token (401), rate limit (429), body
// (400).
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, known := routeFor(r.URL.Path)
	events := known && !rt.introspect && r.Method == rt.method
	if events {
		s.recordReceived(s.now())
	}
	if s.cfg.Latency > 0 && !sleepCtx(r.Context(), s.cfg.Latency) {
		s.recordAborted()
		return
	}
	if !known {
		s.send(w, otherPath, s.errorReply(http.StatusNotFound), "")
		return
	}
	path := r.URL.Path
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		s.send(w, path, s.errorReply(http.StatusMethodNotAllowed), "")
		return
	}
	var f faultDecision
	if events {
		f = s.decideFault(rt.kind)
	}
	body := &bodyReader{r: r}
	switch f.kind {
	case faultReset:
		s.recordFault(FaultReset)
		resetConnection(w)
		return
	case faultServerError:
		s.send(w, path, s.errorReply(f.status), FaultServerError)
		return
	case faultStorm:
		rep := s.errorReply(http.StatusTooManyRequests)
		if s.cfg.RetryAfter {
			now := s.now()
			rep.hdr = retryAfterHeader(now.Truncate(time.Minute).Add(time.Minute).Sub(now))
		}
		s.send(w, path, rep, FaultRateLimitStorm)
		return
	case faultNonJSON:
		s.send(w, path, reply{status: http.StatusOK, contentType: htmlContentType, body: []byte(proxyErrorPage)}, FaultNonJSON)
		return
	case faultStall:
		s.recordFault(FaultStall)
		// Reading the body first lets net/http notice a client hanging up
		// (it cancels the context only once the body has been consumed).
		body.read()
		if !s.stall(r.Context(), f.stall) {
			s.recordAborted()
			return
		}
	}
	rep := s.answer(r, rt, body, s.now(), f.kind != faultTruncate)
	if f.kind == faultTruncate {
		s.sendTruncated(w, path, rep, f)
		return
	}
	s.send(w, path, rep, "")
}

// answer computes the API's response to a request on a known route with the
// right method. charge says whether the request is subject to (and uses) the
// rate-limit budget.
func (s *Server) answer(r *http.Request, rt route, body *bodyReader, now time.Time, charge bool) reply {
	feature := ""
	if !rt.introspect {
		feature = kindName(rt.kind)
	}
	cl, err := s.authenticate(r, feature, now)
	if err != nil {
		return s.errorReply(http.StatusUnauthorized)
	}
	if charge {
		if ok, retry := s.limiter.allow(now); !ok {
			rep := s.errorReply(http.StatusTooManyRequests)
			if s.cfg.RetryAfter {
				rep.hdr = retryAfterHeader(retry)
			}
			return rep
		}
	}
	if rt.introspect {
		return s.introspectReply(rt.v2, cl)
	}
	return s.eventsReply(body, rt, now)
}

// reply is a computed response, written by send or sendTruncated.
type reply struct {
	status      int
	contentType string      // default application/json
	hdr         http.Header // extra headers
	body        []byte
	items, kind int     // events served, and their kind
	buf         *[]byte // pooled buffer holding body, if any
}

func (rep *reply) contentTypeOrJSON() string {
	if rep.contentType == "" {
		return "application/json"
	}
	return rep.contentType
}

func (s *Server) errorReply(status int) reply {
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
	return reply{status: status, body: b}
}

// send records and writes rep; fault names the injected fault, if any.
func (s *Server) send(w http.ResponseWriter, path string, rep reply, fault string) {
	defer s.release(rep)
	s.record(path, rep.status, rep.items, rep.kind, fault)
	h := w.Header()
	for k, v := range rep.hdr {
		h[k] = v
	}
	h.Set("Content-Type", rep.contentTypeOrJSON())
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	// The server's own clock, as a real server's Date header (net/http
	// would use the host's clock, not Config.Now).
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// release returns rep's buffer to the pool.
func (s *Server) release(rep reply) {
	if rep.buf != nil && cap(rep.body) <= 4<<20 {
		*rep.buf = rep.body
		s.bufs.p.Put(rep.buf)
	}
}

func (s *Server) introspectReply(v2 bool, c *claims) reply {
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
	return reply{status: http.StatusOK, body: b}
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

// bodyReader reads a request body once, when first needed.
type bodyReader struct {
	r    *http.Request
	done bool
	b    []byte
	err  error
}

func (br *bodyReader) read() ([]byte, error) {
	if !br.done {
		br.done = true
		br.b, br.err = readBody(br.r)
	}
	return br.b, br.err
}

// bufPool recycles response buffers (pages are up to ~1 MB).
type bufPool struct{ p sync.Pool }

func (s *Server) eventsReply(br *bodyReader, rt route, now time.Time) reply {
	body, err := br.read()
	if err != nil {
		return s.errorReply(http.StatusBadRequest)
	}
	rb, err := parseBody(body)
	if err != nil {
		return s.errorReply(http.StatusBadRequest)
	}
	nowNs := now.UnixNano()
	st := s.streams[rt.kind]
	var cur cursorState
	switch {
	case rb.hasCursor && rb.hasReset() && s.mixed == MixedReject:
		return s.errorReply(http.StatusBadRequest)
	case rb.hasCursor:
		cur, err = s.decodeCursor(rb.cursor, rt.kind)
		if err != nil {
			return s.errorReply(http.StatusBadRequest)
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
			return s.errorReply(http.StatusBadRequest)
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
	return reply{status: http.StatusOK, body: b, items: int(end - pos), kind: rt.kind, buf: bp}
}
