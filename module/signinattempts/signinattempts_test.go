package signinattempts_test

import (
	"encoding/json"
	"testing"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
	"github.com/eventsapibeat/eventsapibeat/module/signinattempts"
)

const base = `{"uuid":"56YE2TYN2VFYRLNSHKPW5NVT5E","session_uuid":"A5K6COGVRVEJXJW3XQZGS7VAMM","timestamp":"2024-12-02T11:54:21.27229198Z","category":"firewall_failed","type":"continent_blocked","country":"FR","details":{"value":"Europe"},"target_user":{"uuid":"IR7VJHJ36JHINBFAD7V2T5MP3E","name":"Wendy Appleseed","email":"wendy_appleseed@agilebits.com","user_type":"user","user_account_uuid":"5ETD3BQKHZH4BFJOYE4DRDP2XM"},"client":{"app_name":"1Password Browser Extension","app_version":"20127","platform_name":"Chrome","platform_version":"93.0.4577.62","os_name":"MacOSX","os_version":"10.15.6","ip_address":"13.227.95.22"},"location":{"country":"Canada","region":"Ontario","city":"Toronto","latitude":43.64,"longitude":-79.433},"account_uuid":"VZSYVT2LGHTBWBQGUJAIZVRABM"}`

var suite = mapcheck.Suite{
	Type:       signinattempts.Type,
	Stream:     "signin_attempts",
	Base:       base,
	IPPath:     []string{"client", "ip_address"},
	RawIPField: "client.ip_address",
}

func TestType(t *testing.T) {
	if err := signinattempts.Type.Validate(); err != nil {
		t.Fatal(err)
	}
	if signinattempts.Type.Name != "signinattempts" || signinattempts.Type.ConfigKey != "signin_attempts" ||
		signinattempts.Type.Dataset != "1password.signin_attempts" {
		t.Errorf("names: %+v", signinattempts.Type)
	}
}

func TestConformance(t *testing.T)     { suite.TestConformance(t) }
func TestGolden(t *testing.T)          { suite.TestGolden(t) }
func TestCommonEdgeCases(t *testing.T) { suite.TestCommonEdgeCases(t) }

func TestAPISamples(t *testing.T) {
	suite.TestSamples(t, map[string]mapcheck.Quirk{
		// Sumo Logic's copy uses client.ip instead of ip_address.
		"sumologic-docs-1password-sample-events.json#0": {
			Undefined: []string{"onepassword.client.ip"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"source.ip": nil, "onepassword.client.ip": "13.227.95.22",
					"onepassword.details.value": "Europe", "event.outcome": "failure",
				})
			},
		},
		// Panther-normalised: not RFC 3339, plus its own p_log_type.
		"panther-analysis-test-logs.json#0": {
			Undefined: []string{"onepassword.p_log_type"},
			Problems:  []string{`timestamp: "2021-12-15 18:02:23" is not an RFC 3339 time`},
		},
		// The official example swaps latitude and longitude; both are in
		// range, so they are kept as sent.
		"official-1password-dev-v2-signinattempts-response.json#0": {
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"source.geo.location.lat": -79.433, "source.geo.location.lon": 43.64,
					"source.geo.country_iso_code": "CA", "onepassword.country": "France",
					"organization.id": "56YE2TYN2VFYRLNSHKPW5NVT5E", "onepassword.user_type": "user",
				})
			},
		},
	})
}

func TestEdgeCases(t *testing.T) {
	category := func(c string) func(m map[string]interface{}) {
		return func(m map[string]interface{}) { m["category"] = c }
	}
	outcome := func(action, outcome string, types ...string) func(t *testing.T, ev beat.Event) {
		return func(t *testing.T, ev beat.Event) {
			var a interface{}
			if action != "" {
				a = action
			}
			mapcheck.Expect(t, ev, map[string]interface{}{
				"event.action": a, "event.outcome": outcome, "event.type": types, "event.category": []string{"authentication"},
			})
		}
	}
	suite.RunEdgeCases(t, []mapcheck.EdgeCase{
		{Name: "success", Mutate: category("success"), Check: outcome("success", "success", "info", "start")},
		{Name: "firewall_reported_success", Mutate: category("firewall_reported_success"),
			Check: outcome("firewall_reported_success", "success", "info", "start")},
		{Name: "credentials_failed", Mutate: category("credentials_failed"), Check: outcome("credentials_failed", "failure", "info")},
		{Name: "mfa_failed", Mutate: category("mfa_failed"), Check: outcome("mfa_failed", "failure", "info")},
		{Name: "sso_failed", Mutate: category("sso_failed"), Check: outcome("sso_failed", "failure", "info")},
		{Name: "modern_version_failed", Mutate: category("modern_version_failed"), Check: outcome("modern_version_failed", "failure", "info")},
		{Name: "firewall_failed", Mutate: category("firewall_failed"), Check: outcome("firewall_failed", "failure", "info")},
		{Name: "unknown category kept", Mutate: category("passkey_failed"), Check: outcome("passkey_failed", "failure", "info")},
		{Name: "category missing", Mutate: func(m map[string]interface{}) { delete(m, "category") }, Check: outcome("", "unknown", "info")},
		{Name: "category is a number", Mutate: func(m map[string]interface{}) { m["category"] = 3 },
			Problems: []string{"category: expected a string, got number"}, Check: outcome("3", "failure", "info")},
		{Name: "u2f_timout kept", Mutate: func(m map[string]interface{}) { m["type"] = "u2f_timout" },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.type": "u2f_timout", "event.reason": "u2f_timout"})
			}},
		{Name: "unknown type kept", Mutate: func(m map[string]interface{}) { m["type"] = "passkey_bad" },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.type": "passkey_bad", "event.reason": "passkey_bad"})
			}},

		// details
		{Name: "details value", Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.details.value": "Europe"})
		}},
		{Name: "details null", Mutate: func(m map[string]interface{}) { m["details"] = nil },
			Check: func(t *testing.T, ev beat.Event) { mapcheck.NoPrefix(t, ev, "onepassword.details") }},
		{Name: "details missing", Mutate: func(m map[string]interface{}) { delete(m, "details") },
			Check: func(t *testing.T, ev beat.Event) { mapcheck.NoPrefix(t, ev, "onepassword.details") }},
		{Name: "details empty object", Mutate: func(m map[string]interface{}) { m["details"] = map[string]interface{}{} },
			Check: func(t *testing.T, ev beat.Event) { mapcheck.NoPrefix(t, ev, "onepassword.details") }},
		{Name: "details is a string", Mutate: func(m map[string]interface{}) { m["details"] = "Asia" },
			Problems: []string{"details: expected an object, got a string; kept as onepassword.details.value"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.details.value": "Asia"})
			}},
		{Name: "details is a number", Mutate: func(m map[string]interface{}) { m["details"] = 5 },
			Problems: []string{"details: expected an object, got number"},
			Check:    func(t *testing.T, ev beat.Event) { mapcheck.NoPrefix(t, ev, "onepassword.details") }},
		{Name: "details value is a number", Mutate: func(m map[string]interface{}) { m["details"] = map[string]interface{}{"value": 10} },
			Problems: []string{"details.value: expected a string, got number"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.details.value": "10"})
			}},
		{Name: "details with more keys", Mutate: func(m map[string]interface{}) {
			m["details"] = map[string]interface{}{"value": "1.2.3.4", "rule": "deny-all"}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.details.value": "1.2.3.4", "onepassword.details.rule": "deny-all"})
		}},

		// the user
		{Name: "target user", Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.id": "IR7VJHJ36JHINBFAD7V2T5MP3E", "user.email": "wendy_appleseed@agilebits.com",
				"user.full_name": "Wendy Appleseed", "user.name": "Wendy Appleseed",
				"related.user":          []string{"IR7VJHJ36JHINBFAD7V2T5MP3E", "wendy_appleseed@agilebits.com", "Wendy Appleseed"},
				"related.ip":            []string{"13.227.95.22"},
				"onepassword.user_type": "user", "onepassword.user_account_uuid": "5ETD3BQKHZH4BFJOYE4DRDP2XM",
				"organization.id": "VZSYVT2LGHTBWBQGUJAIZVRABM", "onepassword.account_uuid": "VZSYVT2LGHTBWBQGUJAIZVRABM",
				"onepassword.target_user": nil, "host.os.name": "MacOSX", "host.os.version": "10.15.6",
				"onepassword.client.app_name": "1Password Browser Extension", "onepassword.session_uuid": "A5K6COGVRVEJXJW3XQZGS7VAMM",
				"onepassword.country": "FR", "event.reason": "continent_blocked", "event.id": "56YE2TYN2VFYRLNSHKPW5NVT5E",
			})
		}},
		{Name: "v1 item: no MSP fields", Mutate: func(m map[string]interface{}) {
			delete(m, "account_uuid")
			tu := m["target_user"].(map[string]interface{})
			delete(tu, "user_type")
			delete(tu, "user_account_uuid")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"organization.id": nil, "onepassword.account_uuid": nil, "onepassword.user_type": nil, "onepassword.user_account_uuid": nil,
			})
		}},
		{Name: "non-ASCII user", Mutate: func(m map[string]interface{}) {
			m["target_user"] = map[string]interface{}{"uuid": "U1", "name": "Zoë Ünïcødé 山田", "email": "zoë@exämple.com"}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"user.full_name": "Zoë Ünïcødé 山田", "user.name": "Zoë Ünïcødé 山田", "user.email": "zoë@exämple.com",
				"related.user": []string{"U1", "zoë@exämple.com", "Zoë Ünïcødé 山田"},
			})
		}},
		{Name: "user with empty name", Mutate: func(m map[string]interface{}) {
			m["target_user"] = map[string]interface{}{"uuid": "U1", "name": "", "email": "a@b.c"}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"user.full_name": nil, "user.name": nil, "related.user": []string{"U1", "a@b.c"}})
		}},
		{Name: "user with the same uuid and name", Mutate: func(m map[string]interface{}) {
			m["target_user"] = map[string]interface{}{"uuid": "X", "name": "X"}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"related.user": []string{"X"}})
		}},
		{Name: "target_user missing", Mutate: func(m map[string]interface{}) { delete(m, "target_user") },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.NoPrefix(t, ev, "user")
				mapcheck.NoPrefix(t, ev, "related.user")
			}},
		{Name: "target_user type key (XSOAR)", Mutate: func(m map[string]interface{}) {
			m["target_user"].(map[string]interface{})["type"] = "user"
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.target_user.type": "user"})
		}},
		{Name: "Sumo client.ip", Mutate: func(m map[string]interface{}) {
			c := m["client"].(map[string]interface{})
			c["ip"] = c["ip_address"]
			delete(c, "ip_address")
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"source.ip": nil, "onepassword.client.ip": "13.227.95.22"})
		}},
		{Name: "app_version is a number", Mutate: func(m map[string]interface{}) {
			m["client"].(map[string]interface{})["app_version"] = 1109
		}, Problems: []string{"client.app_version: expected a string, got number"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.client.app_version": "1109"})
			}},
		{Name: "client is an array", Mutate: func(m map[string]interface{}) { m["client"] = []interface{}{"x"} },
			Problems: []string{"client: expected an object, got array"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.NoPrefix(t, ev, "source.ip")
				mapcheck.NoPrefix(t, ev, "host.os")
				mapcheck.Expect(t, ev, map[string]interface{}{"user.id": "IR7VJHJ36JHINBFAD7V2T5MP3E"})
			}},
	})
}

// TestStruct: an item built from the exported struct maps without problems
// and without leftovers (the struct and the mapper know the same fields).
func TestStruct(t *testing.T) {
	lat, lon := 43.64, -79.433
	item := signinattempts.SignInAttempt{
		UUID: "U", SessionUUID: "S", Timestamp: "2025-01-02T03:04:05Z", Category: "success", Type: "credentials_ok",
		Country: "CA", Details: &module.Details{Value: "v"},
		TargetUser:  module.User{UUID: "T", Name: "N", Email: "e@x", UserType: "user", UserAccountUUID: "A"},
		Client:      module.Client{AppName: "a", AppVersion: "1", PlatformName: "p", PlatformVersion: "2", OSName: "o", OSVersion: "3", IPAddress: "10.0.0.1"},
		Location:    &module.Location{Country: "CA", Region: "ON", City: "Toronto", Latitude: &lat, Longitude: &lon},
		AccountUUID: "ACC",
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
		`{"uuid":"U","timestamp":"x","details":"Asia","client":{"ip_address":"nope"}}`,
		`{"uuid":"U","timestamp":"2021-08-11T14:28:03Z","details":{"value":"Europe"},"category":"success"}`,
	},
		// deliberately unknown keys of the fixtures
		"onepassword.p_log_type", "onepassword.risk", "onepassword.target_user.type")
}

func FuzzMap(f *testing.F) { suite.Fuzz(f) }

func BenchmarkMap(b *testing.B)           { suite.Bench(b) }
func BenchmarkMapWorstCase(b *testing.B)  { suite.BenchWorstCase(b) }
func BenchmarkDocumentFloor(b *testing.B) { suite.BenchDocument(b) }
