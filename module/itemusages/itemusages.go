// Package itemusages maps 1Password item usages
// (POST /api/{v1,v2}/itemusages) to ECS documents.
package itemusages

import (
	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// Names of the event type.
const (
	Name      = "itemusages"
	ConfigKey = "item_usages"
	Dataset   = "1password.item_usages"
)

// Type is the item usages event type.
var Type = module.Type{
	Name:      Name,
	ConfigKey: ConfigKey,
	Dataset:   Dataset,
	Map:       Map,
}

// ItemUsage is one item of the API (v1 and v2; reference §5.3).
type ItemUsage struct {
	UUID        string `json:"uuid"`
	Timestamp   string `json:"timestamp"`
	UsedVersion uint32 `json:"used_version"`
	VaultUUID   string `json:"vault_uuid"`
	ItemUUID    string `json:"item_uuid"`
	// Action is how the item was used: fill, reveal, secure-copy, export,
	// share, enter-item-edit-mode, select-sso-provider, server-create,
	// server-update, server-fetch, other (new values may appear).
	Action   string           `json:"action"`
	User     module.User      `json:"user"`
	Client   module.Client    `json:"client"`
	Location *module.Location `json:"location,omitempty"`
	// AccountUUID is the account where the action was performed (v2, MSP).
	AccountUUID string `json:"account_uuid,omitempty"`
}

// Map maps one item usage.
func Map(item []byte, opts module.MapOptions) (beat.Event, error) {
	return module.MapItemSized(Name, Dataset, sizes, item, opts, mapBody)
}

// sizes: event.{kind,module,dataset,created,id,category,type,action};
// onepassword.{uuid,used_version,vault_uuid,item_uuid,client,user_type,user_account_uuid,account_uuid}.
var sizes = module.Sizes{Event: 8, OnePassword: 8}

func mapBody(m *module.Mapping, root module.Object) {
	// Elastic's choice: a vault item is modelled as a file.
	m.Categorize("file", "access")
	if a, ok := root.Str("action"); ok && a != "" {
		m.Event()["action"] = a
	}
	if n, ok := root.Int("used_version"); ok {
		m.PutOP("used_version", n)
	}
	root.CopyStrings("", "vault_uuid", "item_uuid")
	if u, ok := root.Obj("user"); ok {
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
