// Package auditevents maps 1Password audit events
// (POST /api/{v1,v2}/auditevents) to ECS documents.
package auditevents

import (
	"strings"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// Names of the event type.
const (
	Name      = "auditevents"
	ConfigKey = "audit_events"
	Dataset   = "1password.audit_events"
)

// Type is the audit events event type.
var Type = module.Type{
	Name:      Name,
	ConfigKey: ConfigKey,
	Dataset:   Dataset,
	Map:       Map,
}

// AuditEvent is one item of the API (v1 and v2; reference §5.4).
type AuditEvent struct {
	UUID         string       `json:"uuid"`
	Timestamp    string       `json:"timestamp"`
	ActorUUID    string       `json:"actor_uuid"`
	ActorDetails *module.User `json:"actor_details,omitempty"`
	// ActorType is user or external_user (v2).
	ActorType string `json:"actor_type,omitempty"`
	// ActorAccountUUID is the account the actor belongs to (v2).
	ActorAccountUUID string `json:"actor_account_uuid,omitempty"`
	// AccountUUID is the account where the action was performed (v2).
	AccountUUID string `json:"account_uuid,omitempty"`
	// Action is one of ~80 short verbs (create, join, updatfw, …).
	Action string `json:"action"`
	// ObjectType is what the action was performed on (user, gm, uva, …).
	ObjectType    string           `json:"object_type"`
	ObjectUUID    string           `json:"object_uuid"`
	ObjectDetails *module.User     `json:"object_details,omitempty"`
	AuxID         int64            `json:"aux_id,omitempty"`
	AuxUUID       string           `json:"aux_uuid,omitempty"`
	AuxDetails    *module.User     `json:"aux_details,omitempty"`
	AuxInfo       string           `json:"aux_info,omitempty"`
	Session       module.Session   `json:"session"`
	Location      *module.Location `json:"location,omitempty"`
}

// Map maps one audit event.
func Map(item []byte, opts module.MapOptions) (beat.Event, error) {
	return module.MapItemSized(Name, Dataset, sizes, item, opts, mapBody)
}

// sizes: event.{kind,module,dataset,created,id,category,type,action};
// onepassword.{uuid,actor_details,actor_type,actor_account_uuid,
// account_uuid,object_type,object_uuid,object_details,aux_id,aux_uuid,
// aux_details,aux_info,session}.
var sizes = module.Sizes{Event: 8, OnePassword: 13}

// personAux lists the object types whose aux_uuid / aux_details is a person
// (group membership, user–vault access, a device's owner), as Elastic's
// pipeline does for related.user.
func personAux(objectType string) bool {
	return objectType == "gm" || objectType == "uva" || objectType == "device"
}

func mapBody(m *module.Mapping, root module.Object) {
	if action, ok := root.Str("action"); ok && action != "" {
		m.Event()["action"] = action
		m.Categorize("configuration", "access", ActionType(action))
	} else {
		m.Categorize("configuration", "access")
	}

	// The actor is the user of the event.
	actorUUID, _ := root.Str("actor_uuid")
	var actor module.Person
	if d, ok := root.Obj("actor_details"); ok {
		actor = d.Person()
		if actor.ID != "" {
			m.PutOP("actor_details.uuid", actor.ID)
		}
		d.CopyStrings("actor_details", "user_type", "user_account_uuid")
		d.Rest("actor_details")
	}
	user := module.Person{ID: actorUUID, Name: actor.Name, Email: actor.Email}
	if user.ID == "" {
		user.ID = actor.ID
	}
	m.SetUser(user)
	root.CopyStrings("", "actor_type", "actor_account_uuid")
	m.AccountUUID(root)

	objectType, hasType := root.Str("object_type")
	if hasType {
		m.PutOP("object_type", objectType)
	}
	objectUUID, hasObject := root.Str("object_uuid")
	if hasObject {
		m.PutOP("object_uuid", objectUUID)
	}
	object, hasObjectDetails := personDetails(m, root, "object_details")

	if n, ok := root.Int("aux_id"); ok {
		m.PutOP("aux_id", n)
	}
	auxUUID, hasAux := root.Str("aux_uuid")
	if hasAux {
		m.PutOP("aux_uuid", auxUUID)
	}
	aux, hasAuxDetails := personDetails(m, root, "aux_details")
	root.CopyStrings("", "aux_info")

	if s, ok := root.Obj("session"); ok {
		s.CopyStrings("session", "uuid", "device_uuid")
		if t, ok := s.Time("login_time"); ok {
			m.PutOP("session.login_time", t)
		}
		m.SourceIP(s, "ip", "session.ip")
		s.Rest("session")
	}
	if l, ok := root.Obj("location"); ok {
		m.LocationObject(l)
	}

	// related.user in the order of Elastic's pipeline: actor name, actor
	// uuid, the object if it is a user, the aux if it is a member, user or
	// device owner; then what Elastic leaves out: the target's name and
	// email.
	m.AddRelatedUser(actor.Name, user.ID)
	if objectType == "user" {
		m.AddRelatedUser(objectUUID)
	}
	if personAux(objectType) {
		m.AddRelatedUser(auxUUID)
	}

	// The target person: the object when it is a user, else the aux when it
	// is one.
	objectPerson := module.Person{ID: objectUUID, Name: object.Name, Email: object.Email}
	if objectPerson.ID == "" {
		objectPerson.ID = object.ID
	}
	auxPerson := module.Person{ID: auxUUID, Name: aux.Name, Email: aux.Email}
	if auxPerson.ID == "" {
		auxPerson.ID = aux.ID
	}
	objectIsPerson := (objectType == "user" || hasObjectDetails) && !objectPerson.IsZero()
	auxIsPerson := (personAux(objectType) || hasAuxDetails) && !auxPerson.IsZero()
	switch {
	case objectIsPerson:
		m.SetTargetUser(objectPerson)
	case auxIsPerson:
		m.SetTargetUser(auxPerson)
	}
	if objectIsPerson {
		m.AddRelatedUser(objectPerson.ID, objectPerson.Email, objectPerson.Name)
	}
	if auxIsPerson {
		m.AddRelatedUser(auxPerson.ID, auxPerson.Email, auxPerson.Name)
	}
}

// personDetails maps object_details / aux_details ({uuid, name, email}) to
// onepassword.<key>.* and returns the person.
func personDetails(m *module.Mapping, root module.Object, key string) (module.Person, bool) {
	d, ok := root.Obj(key)
	if !ok {
		return module.Person{}, false
	}
	p := d.Person()
	if !p.IsZero() {
		op := m.OP(key)
		if p.ID != "" {
			op["uuid"] = p.ID
		}
		if p.Name != "" {
			op["name"] = p.Name
		}
		if p.Email != "" {
			op["email"] = p.Email
		}
	}
	d.Rest(key)
	return p, true
}

// actionTypes gives the ECS event.type added to "access" for an audit
// action, where the action says it. Actions not listed get only "access"
// (view, export, launchi, verifications, session plumbing, unknown, …).
// Every value is allowed by ECS for event.category "configuration".
var actionTypes = map[string]string{
	"create":  "creation",
	"provsn":  "creation", // provision a user
	"addgsso": "creation", // add a group to SSO

	"delete":   "deletion",
	"purge":    "deletion",
	"delshare": "deletion",
	"delgsso":  "deletion",
	"dvrfydmn": "deletion", // delete a verified domain

	"patch":    "change",
	"activate": "change",
	"reactive": "change",
	"suspend":  "change",
	"convert":  "change",
	"upguest":  "change",
	"role":     "change",
	"replace":  "change",
	"grant":    "change",
	"revoke":   "change",
	"join":     "change",
	"leave":    "change",
	"hide":     "change",
	"unhide":   "change",
	"trename":  "change",
	"trevoke":  "change",
	"vrfydmn":  "change",
	"uvrfydmn": "change",
	"trvlaway": "change",
	"trvlback": "change",
	"dealldev": "change",
	"deolddev": "change",
	"expire":   "change",
	"unlink":   "change",
}

// ActionType returns the specific ECS event.type of an audit action ("" when
// the action says nothing more than access). Besides the table, update*,
// updat*, change*, chng*, enbl* and disbl* are changes.
func ActionType(action string) string {
	if t, ok := actionTypes[action]; ok {
		return t
	}
	for _, p := range []string{"updat", "change", "chng", "enbl", "disbl"} {
		if strings.HasPrefix(action, p) {
			return "change"
		}
	}
	return ""
}
