// Package module defines what an Events API event type is to the beat: its
// names, its token feature and API path, and the pure function that maps one
// raw API item to an ECS document. Each event type lives in its own
// sub-package (module/<type>) and is listed in module/all.
//
// A module never imports the stream worker, the beater or the API client:
// mapping is a pure function of the raw item bytes and a few options, which
// keeps it easy to test against conformance vectors, to fuzz and to benchmark.
//
// The documents follow /work/shared/docs/ecs-mapping.md. What the three
// types share lives here, not in the types: MapItem (decoding, @timestamp,
// event.*, @metadata._id and event_type, event.original, unknown fields under
// onepassword.*, related.*, error.message), Object (typed, fault-tolerant
// access to one JSON object of the item) and the helpers for the shared
// sub-objects (UserObject, ClientObject, LocationObject, SourceIP,
// AccountUUID). A type package holds its names, its API item struct, a small
// Map body, its _meta/fields.yml (the onepassword.* fields it writes; ECS
// fields come from libbeat) and its tests (see module/internal/mapcheck).
//
// Mapping is on the hot path of the beat (every event), so MapItem keeps
// its cost close to that of building the mapstr.M document itself (see
// BenchmarkDocumentFloor): one pass validates and splits the item (no
// encoding/json, no reflection, see jsonscan.go), the item is copied once
// and the strings of the document are substrings of that copy, values are
// boxed in bulk (box.go), maps are made at their final size, and the
// scratch state is reused from item to item through a sync.Pool. The
// document never points into reused memory nor into the caller's item:
// libbeat's queue holds events long after Map returns.
package module

import (
	"fmt"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
)

// Type describes one Events API event type.
type Type struct {
	// Name is the API's own name for the type. It is at once the path
	// segment (/api/v2/<Name>), the token feature in the JWT's
	// 1password.com/fts claim, and the value of @metadata.event_type
	// (so eventsapibeat 2.x index patterns keep working).
	// Example: "signinattempts".
	Name string
	// ConfigKey is the key of the stream's section under eventsapibeat:
	// in eventsapibeat.yml. Example: "signin_attempts".
	ConfigKey string
	// Dataset is the value of event.dataset. Example: "1password.signin_attempts".
	Dataset string
	// Map turns one raw API item (a JSON object) into a beat.Event.
	//
	// It must never panic and must publish whatever it can: unknown fields go
	// under onepassword.*, a field it cannot map is left out and described in
	// error.message. It returns an error only when the item is not a JSON
	// object at all, so the caller can still publish a minimal document.
	Map func(item []byte, opts MapOptions) (beat.Event, error)
}

// MapOptions are the inputs of a mapping besides the item itself.
type MapOptions struct {
	// Received is when the beat received the page holding the item
	// (event.created).
	Received time.Time
	// PreserveOriginal copies the raw item into event.original.
	PreserveOriginal bool
}

// Validate reports a Type that is missing a required part. It runs in tests
// and at start, so a new module that forgets a name fails loudly.
func (t Type) Validate() error {
	switch {
	case t.Name == "":
		return fmt.Errorf("module type has no Name")
	case t.ConfigKey == "":
		return fmt.Errorf("module type %q has no ConfigKey", t.Name)
	case t.Dataset == "":
		return fmt.Errorf("module type %q has no Dataset", t.Name)
	case t.Map == nil:
		return fmt.Errorf("module type %q has no Map function", t.Name)
	}
	return nil
}
