// Package eventsapi is the client for the 1Password Events API (v1 and v2).
//
// It turns a [Request] (a cursor, or a [ResetCursor] for the first call) into
// a [Page] of raw items, and every HTTP or network failure into an [*Error]
// whose [ErrorKind] tells the caller what to do: retry later (transient, rate
// limited), stop and fix the configuration (unauthorized, forbidden, not
// found, bad request), or simply return (canceled). Items stay
// [encoding/json.RawMessage]: each event type's mapper decodes its own
// schema, so one odd item never fails a whole page here.
//
// The package knows nothing about libbeat. It also never retries on its own:
// the stream worker owns backoff, because it alone knows whether the beat is
// stopping and how the rate budget is shared between streams.
//
// Secrets: the bearer token lives only inside [Token] and is written only
// into the Authorization header. Token's String, Format, GoString, LogValue
// and MarshalJSON redact it, and error messages built from response bodies
// are scrubbed of it, capped and stripped of control characters.
package eventsapi
