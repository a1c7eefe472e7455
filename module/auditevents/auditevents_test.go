package auditevents_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/auditevents"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
)

const base = `{"uuid":"56YE2TYN2VFYRLNSHKPW5NVT5E","timestamp":"2023-03-15T19:33:50.123456789Z","actor_uuid":"4HCGRGYCTRQFBMGVEGTABYDU2V","actor_details":{"uuid":"4HCGRGYCTRQFBMGVEGTABYDU2V","name":"Jeff Shiner","email":"jeff_shiner@agilebits.com","user_type":"user","user_account_uuid":"GB2Q4TTD6VFWBCLTK5H6XCTQRA"},"actor_type":"user","actor_account_uuid":"GB2Q4TTD6VFWBCLTK5H6XCTQRA","account_uuid":"VZSYVT2LGHTBWBQGUJAIZVRABM","action":"join","object_type":"gm","object_uuid":"pf7soyakgngrphytsyjed4ae3u","aux_id":9277034,"aux_uuid":"K6VFYDCJKHGGDI7QFAXX65LCDY","aux_details":{"uuid":"K6VFYDCJKHGGDI7QFAXX65LCDY","name":"Wendy Appleseed","email":"wendy_appleseed@agilebits.com"},"aux_info":"A","session":{"uuid":"A5K6COGVRVEJXJW3XQZGS7VAMM","login_time":"2023-03-15T16:33:50-03:00","device_uuid":"lc5fqgbrcm4plajd2mwncv2b3u","ip":"192.0.2.254"},"location":{"country":"Canada","region":"Ontario","city":"Toronto","latitude":43.5991,"longitude":-79.4988}}`

var suite = mapcheck.Suite{
	Type:       auditevents.Type,
	Stream:     "audit_events",
	Base:       base,
	IPPath:     []string{"session", "ip"},
	RawIPField: "session.ip",
}

func TestType(t *testing.T) {
	if err := auditevents.Type.Validate(); err != nil {
		t.Fatal(err)
	}
	if auditevents.Type.Name != "auditevents" || auditevents.Type.ConfigKey != "audit_events" ||
		auditevents.Type.Dataset != "1password.audit_events" {
		t.Errorf("names: %+v", auditevents.Type)
	}
}

func TestConformance(t *testing.T)     { suite.TestConformance(t) }
func TestGolden(t *testing.T)          { suite.TestGolden(t) }
func TestCommonEdgeCases(t *testing.T) { suite.TestCommonEdgeCases(t) }

func TestAPISamples(t *testing.T) {
	suite.TestSamples(t, map[string]mapcheck.Quirk{
		// The audit-events doc page's example has a "uuid:" key typo.
		"sumologic-docs-1password-sample-events.json#2": {
			Undefined: []string{"onepassword.actor_details.uuid:"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"user.id": "4HCGRGYCTRQFBMGVEGTABYDU2V", "user.full_name": "Jeff Shiner",
					"user.target.id": "K6VFYDCJKHGGDI7QFAXX65LCDY", "user.target.full_name": "Wendy Appleseed",
					"onepassword.aux_id": 9277034, "onepassword.aux_info": "A",
					"onepassword.session.login_time": "2023-03-15T16:33:50-03:00",
				})
			},
		},
		"official-1password-dev-v2-auditevents-response.json#0": {
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"event.action": nil, "event.type": []string{"access"},
					"organization.id": "56YE2TYN2VFYRLNSHKPW5NVT5E", "onepassword.actor_account_uuid": "56YE2TYN2VFYRLNSHKPW5NVT5E",
					"user.target.full_name": "Jack O'Neill", "onepassword.aux_id": 123, "onepassword.aux_info": "<string>",
				})
			},
		},
		// The uuid was replaced by text; it is still a usable id.
		"demisto-content-v2-auditevents_response_2.json#0": {
			Check: func(t *testing.T, ev beat.Event) {
				if ev.Meta["_id"] != "auditevents-second (and last) event" {
					t.Errorf("_id = %v", ev.Meta["_id"])
				}
				mapcheck.Expect(t, ev, map[string]interface{}{
					"user.full_name": "Jenny Bee", "user.id": nil, "user.target.email": "userB@example.com",
					"source.geo.country_name": "United States", "onepassword.actor_type": "user",
				})
			},
		},
	})
}

func TestEventTypes(t *testing.T) {
	for action, want := range map[string][]string{
		"create": {"access", "creation"}, "provsn": {"access", "creation"}, "addgsso": {"access", "creation"},
		"delete": {"access", "deletion"}, "purge": {"access", "deletion"}, "delshare": {"access", "deletion"},
		"delgsso": {"access", "deletion"}, "dvrfydmn": {"access", "deletion"},
		"update": {"access", "change"}, "updatea": {"access", "change"}, "updatduo": {"access", "change"},
		"updatfw": {"access", "change"}, "updatmfa": {"access", "change"}, "patch": {"access", "change"},
		"changemp": {"access", "change"}, "changesk": {"access", "change"}, "changeks": {"access", "change"},
		"changenm": {"access", "change"}, "changela": {"access", "change"}, "chngasso": {"access", "change"},
		"chngdsso": {"access", "change"}, "chngpsso": {"access", "change"}, "enblmfa": {"access", "change"},
		"disblmfa": {"access", "change"}, "enblsso": {"access", "change"}, "disblsso": {"access", "change"},
		"enblduo": {"access", "change"}, "disblduo": {"access", "change"}, "suspend": {"access", "change"},
		"activate": {"access", "change"}, "reactive": {"access", "change"}, "join": {"access", "change"},
		"leave": {"access", "change"}, "grant": {"access", "change"}, "revoke": {"access", "change"},
		"role": {"access", "change"}, "expire": {"access", "change"}, "unlink": {"access", "change"},
		"view": {"access"}, "export": {"access"}, "launchi": {"access"}, "tverify": {"access"},
		"ssotknv": {"access"}, "dlgsess": {"access"}, "unknown": {"access"}, "brand-new-verb": {"access"},
		"share": {"access"}, "sendpkg": {"access"},
	} {
		m := suite.BaseMap(t)
		m["action"] = action
		ev := suite.MustMap(t, m)
		mapcheck.Expect(t, ev, map[string]interface{}{"event.type": want, "event.action": action, "event.category": []string{"configuration"}})
	}
}

func TestEdgeCases(t *testing.T) {
	obj := func(kv ...interface{}) map[string]interface{} {
		m := map[string]interface{}{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	suite.RunEdgeCases(t, []mapcheck.EdgeCase{
		{Name: "base: group membership, aux is the target", Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"event.action": "join", "event.type": []string{"access", "change"},
				"user.id": "4HCGRGYCTRQFBMGVEGTABYDU2V", "user.full_name": "Jeff Shiner", "user.name": "Jeff Shiner",
				"user.email":     "jeff_shiner@agilebits.com",
				"user.target.id": "K6VFYDCJKHGGDI7QFAXX65LCDY", "user.target.full_name": "Wendy Appleseed",
				"user.target.name": "Wendy Appleseed", "user.target.email": "wendy_appleseed@agilebits.com",
				"related.user": []string{"Jeff Shiner", "4HCGRGYCTRQFBMGVEGTABYDU2V", "K6VFYDCJKHGGDI7QFAXX65LCDY",
					"wendy_appleseed@agilebits.com", "Wendy Appleseed"},
				"related.ip": []string{"192.0.2.254"}, "source.ip": "192.0.2.254",
				"onepassword.actor_details.uuid": "4HCGRGYCTRQFBMGVEGTABYDU2V", "onepassword.actor_details.name": nil,
				"onepassword.actor_details.email": nil, "onepassword.actor_details.user_type": "user",
				"onepassword.actor_details.user_account_uuid": "GB2Q4TTD6VFWBCLTK5H6XCTQRA",
				"onepassword.actor_uuid":                      nil, "onepassword.actor_type": "user",
				"onepassword.actor_account_uuid": "GB2Q4TTD6VFWBCLTK5H6XCTQRA",
				"onepassword.account_uuid":       "VZSYVT2LGHTBWBQGUJAIZVRABM", "organization.id": "VZSYVT2LGHTBWBQGUJAIZVRABM",
				"onepassword.object_type": "gm", "onepassword.object_uuid": "pf7soyakgngrphytsyjed4ae3u",
				"onepassword.aux_id": 9277034, "onepassword.aux_uuid": "K6VFYDCJKHGGDI7QFAXX65LCDY", "onepassword.aux_info": "A",
				"onepassword.aux_details.uuid": "K6VFYDCJKHGGDI7QFAXX65LCDY", "onepassword.aux_details.name": "Wendy Appleseed",
				"onepassword.aux_details.email": "wendy_appleseed@agilebits.com",
				"onepassword.session.uuid":      "A5K6COGVRVEJXJW3XQZGS7VAMM", "onepassword.session.device_uuid": "lc5fqgbrcm4plajd2mwncv2b3u",
				"onepassword.session.login_time": "2023-03-15T16:33:50-03:00", "onepassword.session.ip": nil,
				"host.os.name": nil, "event.outcome": nil,
			})
		}},
		{Name: "object is a user", Mutate: func(m map[string]interface{}) {
			m["action"] = "suspend"
			m["object_type"] = "user"
			m["object_uuid"] = "ZRQCUD6A65AKHFETOUFO7NL4OM"
			delete(m, "aux_uuid")
			delete(m, "aux_details")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.target.id": "ZRQCUD6A65AKHFETOUFO7NL4OM", "user.target.name": nil,
				"related.user": []string{"Jeff Shiner", "4HCGRGYCTRQFBMGVEGTABYDU2V", "ZRQCUD6A65AKHFETOUFO7NL4OM"},
			})
		}},
		{Name: "object is a user with details", Mutate: func(m map[string]interface{}) {
			m["object_type"] = "user"
			m["object_uuid"] = "ZRQCUD6A65AKHFETOUFO7NL4OM"
			m["object_details"] = obj("uuid", "ZRQCUD6A65AKHFETOUFO7NL4OM", "name", "Tomás Ñúñez", "email", "tomas@example.com")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.target.id": "ZRQCUD6A65AKHFETOUFO7NL4OM", "user.target.full_name": "Tomás Ñúñez",
				"user.target.email":               "tomas@example.com",
				"onepassword.object_details.name": "Tomás Ñúñez",
				// the object comes first as the target; the aux member is still related
				"related.user": []string{"Jeff Shiner", "4HCGRGYCTRQFBMGVEGTABYDU2V", "ZRQCUD6A65AKHFETOUFO7NL4OM",
					"tomas@example.com", "Tomás Ñúñez", "K6VFYDCJKHGGDI7QFAXX65LCDY", "wendy_appleseed@agilebits.com", "Wendy Appleseed"},
			})
		}},
		{Name: "user–vault access without aux_details", Mutate: func(m map[string]interface{}) {
			m["action"] = "grant"
			m["object_type"] = "uva"
			delete(m, "aux_details")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.target.id": "K6VFYDCJKHGGDI7QFAXX65LCDY", "user.target.name": nil,
				"related.user": []string{"Jeff Shiner", "4HCGRGYCTRQFBMGVEGTABYDU2V", "K6VFYDCJKHGGDI7QFAXX65LCDY"},
			})
		}},
		{Name: "device owner without uuids (demisto)", Mutate: func(m map[string]interface{}) {
			m["action"] = "create"
			m["object_type"] = "device"
			delete(m, "aux_uuid")
			delete(m, "object_uuid")
			m["aux_details"] = obj("name", "Test User", "email", "userA@example.com")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.target.id": nil, "user.target.full_name": "Test User", "user.target.email": "userA@example.com",
				"event.type": []string{"access", "creation"},
			})
		}},
		{Name: "aux is not a person", Mutate: func(m map[string]interface{}) {
			m["action"] = "share"
			m["object_type"] = "item"
			delete(m, "aux_details")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.NoPrefix(t, ev, "user.target")
			mapcheck.Expect(t, ev, map[string]interface{}{
				"related.user": []string{"Jeff Shiner", "4HCGRGYCTRQFBMGVEGTABYDU2V"}, "onepassword.aux_uuid": "K6VFYDCJKHGGDI7QFAXX65LCDY",
			})
		}},
		{Name: "aux_details on another object type is a person", Mutate: func(m map[string]interface{}) {
			m["object_type"] = "invite"
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"user.target.email": "wendy_appleseed@agilebits.com"})
		}},
		{Name: "actor uuid only in actor_details", Mutate: func(m map[string]interface{}) { delete(m, "actor_uuid") },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"user.id": "4HCGRGYCTRQFBMGVEGTABYDU2V"})
			}},
		{Name: "v1: no actor_details, no v2 fields", Mutate: func(m map[string]interface{}) {
			for _, k := range []string{"actor_details", "actor_type", "actor_account_uuid", "account_uuid"} {
				delete(m, k)
			}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.id": "4HCGRGYCTRQFBMGVEGTABYDU2V", "user.name": nil, "user.email": nil, "organization.id": nil,
				"onepassword.actor_type": nil,
				"related.user":           []string{"4HCGRGYCTRQFBMGVEGTABYDU2V", "K6VFYDCJKHGGDI7QFAXX65LCDY", "wendy_appleseed@agilebits.com", "Wendy Appleseed"},
			})
			mapcheck.NoPrefix(t, ev, "onepassword.actor_details")
		}},
		{Name: "aux_id as a string", Mutate: func(m map[string]interface{}) { m["aux_id"] = "9277034" },
			Problems: []string{`aux_id: expected an integer, got string "9277034"; converted`},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.aux_id": 9277034})
			}},
		{Name: "aux_id as an integral float", Raw: strings.Replace(base, `"aux_id":9277034`, `"aux_id":9277034.0`, 1),
			Problems: []string{"aux_id: expected an integer, got `9277034.0`; converted to 9277034"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.aux_id": 9277034})
			}},
		{Name: "aux_id as a fraction", Mutate: func(m map[string]interface{}) { m["aux_id"] = 1.25 },
			Problems: []string{"aux_id: expected an integer, got number `1.25`; left out"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.aux_id": nil})
			}},
		{Name: "aux_id beyond int64", Raw: strings.Replace(base, `"aux_id":9277034`, `"aux_id":92233720368547758070`, 1),
			Problems: []string{"aux_id: expected an integer"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.aux_id": nil})
			}},
		{Name: "aux_id largest int64", Raw: strings.Replace(base, `"aux_id":9277034`, `"aux_id":9223372036854775807`, 1),
			Check: func(t *testing.T, ev beat.Event) {
				if v, _ := ev.Fields.GetValue("onepassword.aux_id"); v != int64(9223372036854775807) {
					t.Errorf("aux_id = %#v", v)
				}
			}},
		{Name: "login_time invalid", Mutate: func(m map[string]interface{}) {
			m["session"].(map[string]interface{})["login_time"] = "yesterday"
		}, Problems: []string{`session.login_time: "yesterday" is not an RFC 3339 time; left out`},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.session.login_time": nil, "onepassword.session.uuid": "A5K6COGVRVEJXJW3XQZGS7VAMM"})
			}},
		{Name: "login_time nanoseconds kept", Mutate: func(m map[string]interface{}) {
			m["session"].(map[string]interface{})["login_time"] = "2022-10-24T21:07:34.703106271Z"
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.session.login_time": "2022-10-24T21:07:34.703106271Z"})
		}},
		{Name: "session is a string", Mutate: func(m map[string]interface{}) { m["session"] = "A5K6COGVRVEJXJW3XQZGS7VAMM" },
			Problems: []string{"session: expected an object, got string"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.NoPrefix(t, ev, "onepassword.session")
				mapcheck.NoPrefix(t, ev, "source.ip")
			}},
		{Name: "unknown enum values kept", Mutate: func(m map[string]interface{}) {
			m["object_type"] = "passkeyvault"
			m["actor_type"] = "robot"
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.object_type": "passkeyvault", "onepassword.actor_type": "robot"})
		}},
		{Name: "uuid: typo in actor_details", Mutate: func(m map[string]interface{}) {
			m["actor_details"] = obj("uuid:", "4HCGRGYCTRQFBMGVEGTABYDU2V", "name", "Jeff Shiner")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"onepassword.actor_details.uuid:": "4HCGRGYCTRQFBMGVEGTABYDU2V", "onepassword.actor_details.uuid": nil,
				"user.id": "4HCGRGYCTRQFBMGVEGTABYDU2V",
			})
		}},
		{Name: "unknown field clashing with a sign-in object", Mutate: func(m map[string]interface{}) { m["client"] = "x" },
			Problems: []string{"client: unknown field left out, onepassword.client is an object"}},
		{Name: "unknown field clashing with an item-usage long", Mutate: func(m map[string]interface{}) { m["used_version"] = "x" },
			Problems: []string{"used_version: unknown field left out, onepassword.used_version is an integer"}},
		{Name: "unknown object in a keyword name", Mutate: func(m map[string]interface{}) { m["type"] = obj("a", 1) },
			Problems: []string{"type: object kept as JSON text in the keyword field onepassword.type"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.type": `{"a":1}`})
			}},
		{Name: "unknown nested object compatible with a sign-in object", Mutate: func(m map[string]interface{}) {
			m["client"] = obj("app_name", "1Password CLI", "extra", 1)
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.client.app_name": "1Password CLI", "onepassword.client.extra": 1})
		}},
	})
}

// TestStruct: an item built from the exported struct maps without problems
// and without leftovers.
func TestStruct(t *testing.T) {
	lat, lon := 1.5, 2.5
	u := &module.User{UUID: "T", Name: "N", Email: "e@x", UserType: "user", UserAccountUUID: "A"}
	item := auditevents.AuditEvent{
		UUID: "U", Timestamp: "2025-01-02T03:04:05Z", ActorUUID: "T", ActorDetails: u, ActorType: "user",
		ActorAccountUUID: "A", AccountUUID: "ACC", Action: "create", ObjectType: "user", ObjectUUID: "O",
		ObjectDetails: &module.User{UUID: "O", Name: "On", Email: "o@x"}, AuxID: 7, AuxUUID: "X",
		AuxDetails: &module.User{UUID: "X", Name: "Xn", Email: "x@x"}, AuxInfo: "A",
		Session:  module.Session{UUID: "S", LoginTime: "2025-01-02T03:00:00Z", DeviceUUID: "d", IP: "10.0.0.1"},
		Location: &module.Location{Country: "CA", Region: "ON", City: "Toronto", Latitude: &lat, Longitude: &lon},
	}
	b, err := json.Marshal(item)
	if err != nil {
		t.Fatal(err)
	}
	ev := suite.MustMap(t, b)
	mapcheck.ExpectProblems(t, ev)
	defs, err := mapcheck.StandardDefs()
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := mapcheck.Undefined(ev, defs); len(u) > 0 {
		t.Errorf("undefined fields: %q", u)
	}
}

func TestFieldsDefined(t *testing.T) {
	suite.TestFieldsDefined(t, []string{
		`{"uuid":"U","timestamp":"x","aux_id":1.5,"session":{"ip":"nope","login_time":"x"},"object_type":"user","object_details":{"name":"n"}}`,
	}, "onepassword.new_v3_field", "onepassword.session.tls", "onepassword.actor_details.uuid:")
}

func FuzzMap(f *testing.F) { suite.Fuzz(f) }

func BenchmarkMap(b *testing.B)           { suite.Bench(b) }
func BenchmarkMapWorstCase(b *testing.B)  { suite.BenchWorstCase(b) }
func BenchmarkDocumentFloor(b *testing.B) { suite.BenchDocument(b) }
