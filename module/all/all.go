// Package all lists the event types the beat knows. Adding a type is one
// folder under module/ and one line in Types.
package all

import (
	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/auditevents"
	"github.com/eventsapibeat/eventsapibeat/module/itemusages"
	"github.com/eventsapibeat/eventsapibeat/module/signinattempts"
)

// Types returns every event type, in the order of the 2.x configuration
// (sign-in attempts, item usages) followed by audit events. The slice is new
// on each call.
func Types() []module.Type {
	return []module.Type{
		signinattempts.Type,
		itemusages.Type,
		auditevents.Type,
	}
}
