// Package signinattempts maps 1Password sign-in attempts
// (POST /api/{v1,v2}/signinattempts) to ECS documents.
package signinattempts

import (
	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// Names of the event type.
const (
	Name      = "signinattempts"
	ConfigKey = "signin_attempts"
	Dataset   = "1password.signin_attempts"
)

// Type is the sign-in attempts event type.
var Type = module.Type{
	Name:      Name,
	ConfigKey: ConfigKey,
	Dataset:   Dataset,
	Map:       Map,
}

// SignInAttempt is one item of the API (v1 and v2; reference §5.2).
type SignInAttempt struct {
	UUID        string `json:"uuid"`
	SessionUUID string `json:"session_uuid"`
	Timestamp   string `json:"timestamp"`
	// Category is the outcome class: success, credentials_failed,
	// mfa_failed, sso_failed, modern_version_failed, firewall_failed,
	// firewall_reported_success (new values may appear).
	Category string `json:"category"`
	// Type details the attempt: credentials_ok, password_secret_bad, … (both
	// u2f_timeout and the older spelling u2f_timout may appear).
	Type       string           `json:"type"`
	Country    string           `json:"country"`
	Details    *module.Details  `json:"details"`
	TargetUser module.User      `json:"target_user"`
	Client     module.Client    `json:"client"`
	Location   *module.Location `json:"location,omitempty"`
	// AccountUUID is the account where the action was performed (v2, MSP).
	AccountUUID string `json:"account_uuid,omitempty"`
}

// Map maps one sign-in attempt.
func Map(item []byte, opts module.MapOptions) (beat.Event, error) {
	return module.MapItemSized(Name, Dataset, sizes, item, opts, mapBody)
}

// sizes: event.{kind,module,dataset,created,id,category,type,action,outcome,reason};
// onepassword.{uuid,type,session_uuid,country,details,client,user_type,user_account_uuid,account_uuid}.
var sizes = module.Sizes{Event: 10, OnePassword: 9}

func mapBody(m *module.Mapping, root module.Object) {
	event := m.Event()
	category, ok := root.Str("category")
	switch {
	case !ok:
		m.Categorize("authentication", "info")
		event["outcome"] = "unknown"
	case category == "success" || category == "firewall_reported_success":
		event["action"] = category
		m.Categorize("authentication", "info", "start")
		event["outcome"] = "success"
	default:
		if category != "" {
			event["action"] = category
		}
		m.Categorize("authentication", "info")
		event["outcome"] = "failure"
	}
	if t, ok := root.Str("type"); ok {
		v := t
		m.PutOP("type", v)
		if t != "" {
			event["reason"] = v
		}
	}
	root.CopyStrings("", "session_uuid", "country")
	mapDetails(m, root)
	if u, ok := root.Obj("target_user"); ok {
		m.UserObject(u)
	}
	if c, ok := root.Obj("client"); ok {
		m.ClientObject(c)
	}
	if l, ok := root.Obj("location"); ok {
		m.LocationObject(l)
	}
	m.AccountUUID(root)
}

// mapDetails: details {value} → onepassword.details.value; null → nothing
// (as Elastic's current pipeline); a bare string is taken as the value.
func mapDetails(m *module.Mapping, root module.Object) {
	if !root.Has("details") {
		root.Obj("details") // take a null
		return
	}
	if s, ok := detailsString(root); ok {
		m.PutOP("details.value", s)
		m.Problemf("details: expected an object, got a string; kept as onepassword.details.value")
		return
	}
	if d, ok := root.Obj("details"); ok {
		d.CopyStrings("details", "value")
		d.Rest("details")
	}
}

// detailsString takes details when it is a JSON string.
func detailsString(root module.Object) (string, bool) {
	if !root.IsString("details") {
		return "", false
	}
	return root.Str("details")
}
