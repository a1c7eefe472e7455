package itemusages_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
	"github.com/eventsapibeat/eventsapibeat/module/itemusages"
)

const base = `{"uuid":"MCQODBBWJD5HISKYNP3HJPV2DV","timestamp":"2024-12-02T11:54:21.27229198Z","used_version":3,"vault_uuid":"jaqxqf5qylslqiitnduawrndc5","item_uuid":"bvwmmwxisuca7wbehrbyqhag54","action":"fill","user":{"uuid":"OJQGU46KAPROEJLCK674RHSAY5","name":"Name","email":"email@1password.com","user_type":"user","user_account_uuid":"5ETD3BQKHZH4BFJOYE4DRDP2XM"},"client":{"app_name":"1Password Browser Extension","app_version":"1109","platform_name":"Chrome","platform_version":"93.0.4577.62","os_name":"Android","os_version":"10","ip_address":"89.160.20.156"},"location":{"country":"Canada","region":"Ontario","city":"Toronto","latitude":43.64,"longitude":-79.433},"account_uuid":"VZSYVT2LGHTBWBQGUJAIZVRABM"}`

var suite = mapcheck.Suite{
	Type:       itemusages.Type,
	Stream:     "item_usages",
	Base:       base,
	IPPath:     []string{"client", "ip_address"},
	RawIPField: "client.ip_address",
}

func TestType(t *testing.T) {
	if err := itemusages.Type.Validate(); err != nil {
		t.Fatal(err)
	}
	if itemusages.Type.Name != "itemusages" || itemusages.Type.ConfigKey != "item_usages" ||
		itemusages.Type.Dataset != "1password.item_usages" {
		t.Errorf("names: %+v", itemusages.Type)
	}
}

func TestConformance(t *testing.T)     { suite.TestConformance(t) }
func TestGolden(t *testing.T)          { suite.TestGolden(t) }
func TestCommonEdgeCases(t *testing.T) { suite.TestCommonEdgeCases(t) }

func TestAPISamples(t *testing.T) {
	suite.TestSamples(t, map[string]mapcheck.Quirk{
		// Sumo Logic's copy uses client.ip instead of ip_address.
		"sumologic-docs-1password-sample-events.json#1": {
			Undefined: []string{"onepassword.client.ip"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"source.ip": nil, "onepassword.client.ip": "13.227.95.22", "onepassword.used_version": 0,
					"event.action": "secure-copy",
				})
			},
		},
		// Panther-normalised: not RFC 3339, a five-part "IP", p_log_type.
		"panther-analysis-test-logs.json#1": {
			Undefined: []string{"onepassword.p_log_type"},
			Problems:  []string{`timestamp: "2022-02-23 20:27:17.071" is not an RFC 3339 time`, `client.ip_address: "1.1.1.1.1" is not an IP address`},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"source.ip": nil, "related.ip": nil, "onepassword.client.ip_address": "1.1.1.1.1",
					"user.id": "2222222", "onepassword.used_version": 2,
				})
			},
		},
		"official-1password-dev-v2-itemusages-response.json#0": {
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{
					"onepassword.used_version": 123, "organization.id": "56YE2TYN2VFYRLNSHKPW5NVT5E",
					"onepassword.user_type": "user", "onepassword.user_account_uuid": "56YE2TYN2VFYRLNSHKPW5NVT5E",
					"event.action": "reveal",
				})
			},
		},
	})
}

func TestEdgeCases(t *testing.T) {
	usedVersion := func(v interface{}) func(m map[string]interface{}) {
		return func(m map[string]interface{}) { m["used_version"] = v }
	}
	expectVersion := func(v interface{}) func(t *testing.T, ev beat.Event) {
		return func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.used_version": v, "event.id": "MCQODBBWJD5HISKYNP3HJPV2DV"})
		}
	}
	suite.RunEdgeCases(t, []mapcheck.EdgeCase{
		{Name: "base", Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{
				"event.category": []string{"file"}, "event.type": []string{"access"}, "event.action": "fill",
				"event.outcome": nil, "event.reason": nil,
				"onepassword.used_version": 3, "onepassword.vault_uuid": "jaqxqf5qylslqiitnduawrndc5",
				"onepassword.item_uuid": "bvwmmwxisuca7wbehrbyqhag54",
				"user.id":               "OJQGU46KAPROEJLCK674RHSAY5", "user.full_name": "Name", "user.name": "Name", "user.email": "email@1password.com",
				"related.user":          []string{"OJQGU46KAPROEJLCK674RHSAY5", "email@1password.com", "Name"},
				"onepassword.user_type": "user", "onepassword.user_account_uuid": "5ETD3BQKHZH4BFJOYE4DRDP2XM",
				"organization.id": "VZSYVT2LGHTBWBQGUJAIZVRABM", "host.os.name": "Android", "host.os.version": "10",
				"onepassword.user": nil,
			})
		}},
		{Name: "used_version 0", Mutate: usedVersion(0), Check: expectVersion(0)},
		{Name: "used_version large", Mutate: usedVersion(4294967295), Check: expectVersion(4294967295)},
		{Name: "used_version as a string", Mutate: usedVersion("7"),
			Problems: []string{`used_version: expected an integer, got string "7"; converted`}, Check: expectVersion(7)},
		{Name: "used_version in exponent form", Raw: strings.Replace(base, `"used_version":3`, `"used_version":1e2`, 1),
			Problems: []string{"used_version: expected an integer, got `1e2`; converted to 100"}, Check: expectVersion(100)},
		{Name: "used_version as 3.0", Raw: strings.Replace(base, `"used_version":3`, `"used_version":3.0`, 1),
			Problems: []string{"converted to 3"}, Check: expectVersion(3)},
		{Name: "used_version as a fraction", Mutate: usedVersion(1.5),
			Problems: []string{"used_version: expected an integer, got number `1.5`; left out"}, Check: expectVersion(nil)},
		{Name: "used_version not numeric", Mutate: usedVersion("latest"),
			Problems: []string{`used_version: expected an integer, got string "latest"; left out`}, Check: expectVersion(nil)},
		{Name: "used_version too large", Mutate: usedVersion(1e30),
			Problems: []string{"used_version: expected an integer"}, Check: expectVersion(nil)},
		{Name: "used_version is an object", Mutate: usedVersion(map[string]interface{}{"v": 1}),
			Problems: []string{"used_version: expected an integer, got object"}, Check: expectVersion(nil)},
		{Name: "used_version null", Mutate: usedVersion(nil), Check: expectVersion(nil)},
		{Name: "every action", Mutate: func(m map[string]interface{}) { m["action"] = "select-sso-provider" },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"event.action": "select-sso-provider", "event.type": []string{"access"}})
			}},
		{Name: "unknown action kept", Mutate: func(m map[string]interface{}) { m["action"] = "teleport" },
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.Expect(t, ev, map[string]interface{}{"event.action": "teleport"})
			}},
		{Name: "action missing (before 8.4.0)", Mutate: func(m map[string]interface{}) { delete(m, "action") },
			Check: func(t *testing.T, ev beat.Event) { mapcheck.Expect(t, ev, map[string]interface{}{"event.action": nil}) }},
		{Name: "v1 item: no MSP fields", Mutate: func(m map[string]interface{}) {
			delete(m, "account_uuid")
			m["user"] = map[string]interface{}{"uuid": "U", "name": "N", "email": "e@x"}
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"organization.id": nil, "onepassword.user_type": nil, "user.id": "U"})
		}},
		{Name: "unknown user field", Mutate: func(m map[string]interface{}) {
			m["user"].(map[string]interface{})["department"] = "R&D"
		}, Check: func(t *testing.T, ev beat.Event) {
			mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.user.department": "R&D"})
		}},
		{Name: "user is a string", Mutate: func(m map[string]interface{}) { m["user"] = "OJQGU46KAPROEJLCK674RHSAY5" },
			Problems: []string{"user: expected an object, got string"},
			Check: func(t *testing.T, ev beat.Event) {
				mapcheck.NoPrefix(t, ev, "user")
				mapcheck.Expect(t, ev, map[string]interface{}{"onepassword.used_version": 3, "source.ip": "89.160.20.156"})
			}},
	})
}

// TestStruct: an item built from the exported struct maps without problems
// and without leftovers.
func TestStruct(t *testing.T) {
	lat, lon := 1.5, 2.5
	item := itemusages.ItemUsage{
		UUID: "U", Timestamp: "2025-01-02T03:04:05Z", UsedVersion: 9, VaultUUID: "v", ItemUUID: "i", Action: "fill",
		User:        module.User{UUID: "T", Name: "N", Email: "e@x", UserType: "user", UserAccountUUID: "A"},
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
		`{"uuid":"U","timestamp":"x","used_version":"x","client":{"ip_address":"nope"}}`,
	}, "onepassword.p_log_type")
}

func FuzzMap(f *testing.F) { suite.Fuzz(f) }

func BenchmarkMap(b *testing.B)           { suite.Bench(b) }
func BenchmarkMapWorstCase(b *testing.B)  { suite.BenchWorstCase(b) }
func BenchmarkDocumentFloor(b *testing.B) { suite.BenchDocument(b) }
