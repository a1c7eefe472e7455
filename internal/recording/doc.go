// Package recording records the beat's Events API traffic to a directory and
// replays it from there, for support cases and tests.
//
// Both sides are [net/http.RoundTripper]s, so they sit under the Events API
// client and see every request it sends (introspect and pages), whatever the
// client does above them. A [Recorder] passes each request on to the network
// and writes the exchange to a file; a [Replay] answers each request from the
// files and never touches the network.
//
// # Format (version 1)
//
// A recording directory holds one subdirectory per stream, named after the
// stream's configuration key (signin_attempts, item_usages, audit_events).
// Each exchange is one file in it, NNNNNN-<endpoint>.json, numbered from
// 000001 in the order the stream sent its requests (a restart continues the
// numbering). A file is a JSON object:
//
//	{
//	  "version": 1,                      // format version; others are refused
//	  "stream": "signin_attempts",       // the directory's name
//	  "seq": 2,                          // the number in the file name
//	  "time": "2026-01-02T03:04:05.123Z",// when the request was sent
//	  "duration_ms": 41,
//	  "request": {
//	    "method": "POST",
//	    "url": "https://events.1password.com/api/v2/signinattempts",
//	    "header": {"Content-Type": ["application/json"]},
//	    "body": {"cursor": "..."}
//	  },
//	  "response": {"status": 200, "header": {...}, "body": {"cursor": "...", "has_more": true, "items": [...]}},
//	  "error": "..."                     // instead of response: the request got no response
//	}
//
// A body is stored as "body" when it is JSON, as "body_text" when it is other
// UTF-8 text, and as "body_base64" otherwise; "body_error" records that
// reading a response body failed after the stored bytes. Unknown keys are
// ignored, so later version-1 writers may add some.
//
// What the API did is recorded, what the beat's stop did is not. A response
// body cut off by the cancellation of the request's context (the read error
// is context.Canceled) leaves no file; a body the server cut off, and an
// answer that arrived just before the stop, are recorded. The Events API
// client judges the same read error the same way, so such an exchange is
// recorded exactly when the stream counts it, and a replay goes through the
// same failures. A request that got no response is recorded unless its
// context was canceled by then; a timeout (an expired deadline) is recorded.
//
// Secrets: the Authorization, Proxy-Authorization and Cookie request headers
// and the Set-Cookie response header are never written, and the bearer token
// of each request (and each long segment of it) is replaced with REDACTED
// wherever else it appears: URL, headers, bodies, error text. Files are
// written atomically with mode 0600 in directories of mode 0700, because
// they hold the account's events.
//
// # Matching
//
// A replayed request is answered with the next unused recorded exchange of
// its stream with the same method, endpoint (the URL path from /api/ on; the
// host is ignored) and request: the cursor for a page request, "a reset" for
// a request without a cursor (its start_time is usually derived from the
// clock, so it is not compared), nothing for introspect. Exchanges with the
// same request are used in recorded order, which replays retries and polls
// that returned nothing new exactly as they happened.
//
// When the recording has no unused answer left, a page request with a cursor
// gets an empty page with that cursor and has_more false (so the stream
// idles as if caught up, and a log line says so once per stream), an
// introspect request gets its last recorded answer again, and anything else
// fails like a network error with a message saying what is missing.
package recording
