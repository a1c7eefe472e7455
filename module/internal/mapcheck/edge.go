package mapcheck

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
)

// EdgeCase is one row of an edge-case table: an item (Raw, or Base changed
// by Mutate), the problems error.message must list (substrings, in order,
// exactly that many) and more assertions.
type EdgeCase struct {
	Name     string
	Raw      string
	Mutate   func(m map[string]interface{})
	Opts     *module.MapOptions
	Problems []string
	Check    func(t *testing.T, ev beat.Event)
}

// RunEdgeCases runs a table of edge cases against the suite's type.
func (s Suite) RunEdgeCases(t *testing.T, cases []EdgeCase) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			item := []byte(c.Raw)
			if c.Raw == "" {
				m := s.BaseMap(t)
				if c.Mutate != nil {
					c.Mutate(m)
				}
				item = ToJSON(t, m)
			}
			opts := Opts
			if c.Opts != nil {
				opts = *c.Opts
			}
			ev, err := s.Type.Map(item, opts)
			if err != nil {
				t.Fatalf("Map: %v", err)
			}
			s.CheckEvent(t, ev)
			s.checkDefined(t, ev)
			ExpectProblems(t, ev, c.Problems...)
			if c.Check != nil {
				c.Check(t, ev)
			}
		})
	}
}

// EdgeUnknown are the deliberately unknown fields of the edge-case tables;
// every other field an edge case writes must be defined (see
// TestFieldsDefined).
var EdgeUnknown = []string{
	"onepassword.new_field", "onepassword.new_number", "onepassword.new_obj", "onepassword.mixed",
	"onepassword.dotted_key", "onepassword.list", "onepassword.nothing", "onepassword.deep",
	"onepassword.location", "onepassword.client.new_thing", "onepassword.session.new_thing",
	"onepassword.details.rule", "onepassword.target_user", "onepassword.user",
	"onepassword.client.ip", "onepassword.client.extra", "onepassword.actor_details.uuid:",
}

func (s Suite) checkDefined(t testing.TB, ev beat.Event, extra ...string) {
	t.Helper()
	defs, err := StandardDefs()
	if err != nil {
		t.Fatal(err)
	}
	undefined, err := Undefined(ev, defs, append(extra, EdgeUnknown...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range undefined {
		t.Errorf("field %s is defined neither in libbeat's ECS fields nor in a fields.yml", k)
	}
}

// ExpectProblems asserts error.message: one entry per want, each containing
// its want, in order.
func ExpectProblems(t testing.TB, ev beat.Event, want ...string) {
	t.Helper()
	msgs := ErrorMessages(ev)
	if len(msgs) != len(want) {
		t.Errorf("error.message = %q, want %d entries matching %q", msgs, len(want), want)
		return
	}
	for i, w := range want {
		if !strings.Contains(msgs[i], w) {
			t.Errorf("error.message[%d] = %q, want it to contain %q", i, msgs[i], w)
		}
	}
	if len(want) == 1 {
		if v, _ := ev.Fields.GetValue("error.message"); reflect.TypeOf(v).Kind() != reflect.String {
			t.Errorf("a single error.message should be a string, got %T", v)
		}
	}
}

// Expect asserts flattened fields: a nil want means the key must be absent.
func Expect(t testing.TB, ev beat.Event, want map[string]interface{}) {
	t.Helper()
	doc, err := Doc(ev)
	if err != nil {
		t.Fatal(err)
	}
	flat := Flatten(doc)
	for k, w := range want {
		g, ok := flat[k]
		if w == nil {
			if ok {
				t.Errorf("%s = %v, want it absent", k, show(g))
			}
			continue
		}
		wj, gj := show(w), show(g)
		if !ok || wj != gj {
			t.Errorf("%s = %s, want %s", k, gj, wj)
		}
	}
}

// NoPrefix asserts that no flattened key starts with prefix.
func NoPrefix(t testing.TB, ev beat.Event, prefix string) {
	t.Helper()
	doc, err := Doc(ev)
	if err != nil {
		t.Fatal(err)
	}
	for k := range Flatten(doc) {
		if k == prefix || strings.HasPrefix(k, prefix+".") {
			t.Errorf("unexpected %s", k)
		}
	}
}

// SetPath sets m[path...] = v, creating objects on the way.
func SetPath(m map[string]interface{}, path []string, v interface{}) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// DeletePath deletes m[path...].
func DeletePath(m map[string]interface{}, path []string) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]interface{})
		if !ok {
			return
		}
		m = next
	}
	delete(m, path[len(path)-1])
}

// Paths lists the paths of every value in m (objects and leaves).
func Paths(m map[string]interface{}) [][]string {
	var out [][]string
	var walk func(prefix []string, m map[string]interface{})
	walk = func(prefix []string, m map[string]interface{}) {
		for k, v := range m {
			p := append(append([]string(nil), prefix...), k)
			out = append(out, p)
			if sub, ok := v.(map[string]interface{}); ok {
				walk(p, sub)
			}
		}
	}
	walk(nil, m)
	return out
}

// TestCommonEdgeCases runs the edge cases every type shares: location, IP,
// timestamp, uuid and document id, unknown fields, wrong JSON types,
// preserve_original and non-object items.
func (s Suite) TestCommonEdgeCases(t *testing.T) {
	ip := s.IPPath
	ipParent := ip[:len(ip)-1]
	ipAt := strings.Join(ip, ".")
	rawIP := "onepassword." + s.RawIPField
	setIP := func(v interface{}) func(m map[string]interface{}) {
		return func(m map[string]interface{}) { SetPath(m, ip, v) }
	}
	setLoc := func(k string, v interface{}) func(m map[string]interface{}) {
		return func(m map[string]interface{}) { SetPath(m, []string{"location", k}, v) }
	}
	invalidIP := func(raw string) func(t *testing.T, ev beat.Event) {
		return func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.ip": nil, "related.ip": nil, rawIP: raw})
		}
	}
	base := s.BaseMap(t)
	loc, _ := base["location"].(map[string]interface{})
	if loc == nil {
		t.Fatal("Base has no location")
	}

	cases := []EdgeCase{
		{Name: "base", Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{
				"source.geo.city_name":    loc["city"],
				"source.geo.region_name":  loc["region"],
				"source.geo.location.lat": loc["latitude"],
				"source.geo.location.lon": loc["longitude"],
				"event.kind":              "event",
				"event.module":            "1password",
				"event.dataset":           s.Type.Dataset,
				"event.created":           Received.UTC().Format("2006-01-02T15:04:05.000Z"), // libbeat writes milliseconds
				"event.original":          nil,
				rawIP:                     nil,
				"onepassword.timestamp":   nil,
				"error.message":           nil,
			})
			if ev.Meta["event_type"] != s.Type.Name {
				t.Errorf("@metadata.event_type = %v", ev.Meta["event_type"])
			}
		}},

		// location
		{Name: "location missing", Mutate: func(m map[string]interface{}) { delete(m, "location") },
			Check: func(t *testing.T, ev beat.Event) { NoPrefix(t, ev, "source.geo") }},
		{Name: "location null", Mutate: func(m map[string]interface{}) { m["location"] = nil },
			Check: func(t *testing.T, ev beat.Event) { NoPrefix(t, ev, "source.geo") }},
		{Name: "location empty", Mutate: func(m map[string]interface{}) { m["location"] = map[string]interface{}{} },
			Check: func(t *testing.T, ev beat.Event) { NoPrefix(t, ev, "source.geo") }},
		{Name: "lat and lon missing", Mutate: func(m map[string]interface{}) {
			DeletePath(m, []string{"location", "latitude"})
			DeletePath(m, []string{"location", "longitude"})
		}, Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.location.lat": nil, "source.geo.city_name": loc["city"]})
		}},
		{Name: "latitude only", Mutate: func(m map[string]interface{}) { DeletePath(m, []string{"location", "longitude"}) },
			Problems: []string{"location: latitude and longitude must both be present"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"source.geo.location.lat": nil, "source.geo.city_name": loc["city"]})
			}},
		{Name: "lat null", Mutate: setLoc("latitude", nil),
			Problems: []string{"must both be present"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"source.geo.location.lat": nil})
			}},
		{Name: "latitude out of range", Mutate: setLoc("latitude", 123.4),
			Problems: []string{"location: latitude 123.4, longitude"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"source.geo.location.lat": nil, "source.geo.city_name": loc["city"]})
			}},
		{Name: "longitude out of range", Mutate: setLoc("longitude", -180.5),
			Problems: []string{"out of range"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"source.geo.location.lon": nil})
			}},
		{Name: "lat and lon at the limits", Mutate: func(m map[string]interface{}) {
			SetPath(m, []string{"location", "latitude"}, -90)
			SetPath(m, []string{"location", "longitude"}, 180)
		}, Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.location.lat": -90, "source.geo.location.lon": 180})
		}},
		{Name: "lat and lon as strings", Mutate: func(m map[string]interface{}) {
			SetPath(m, []string{"location", "latitude"}, "43.64")
			SetPath(m, []string{"location", "longitude"}, "-79.433")
		}, Problems: []string{"location.latitude: expected a number, got string", "location.longitude: expected a number, got string"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"source.geo.location.lat": 43.64, "source.geo.location.lon": -79.433})
			}},
		{Name: "lat not a number", Mutate: setLoc("latitude", "north"),
			Problems: []string{"location.latitude: expected a number, got string \"north\"; left out", "must both be present"}},
		{Name: "location is a string", Mutate: func(m map[string]interface{}) { m["location"] = "Toronto, Canada" },
			Problems: []string{"location: expected an object, got string"},
			Check: func(t *testing.T, ev beat.Event) {
				NoPrefix(t, ev, "source.geo")
				if !Has(t, ev, "source.ip") || !Has(t, ev, "event.id") {
					t.Error("the rest of the event was lost")
				}
			}},
		{Name: "country ISO code", Mutate: setLoc("country", "CA"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.country_iso_code": "CA", "source.geo.country_name": nil})
		}},
		{Name: "country lower-case code", Mutate: setLoc("country", "ca"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.country_iso_code": "CA", "source.geo.country_name": nil})
		}},
		{Name: "country full name", Mutate: setLoc("country", "Canada"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.country_name": "Canada", "source.geo.country_iso_code": nil})
		}},
		{Name: "country 3-letter code", Mutate: setLoc("country", "CAN"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.geo.country_name": "CAN", "source.geo.country_iso_code": nil})
		}},
		{Name: "non-ASCII location", Mutate: func(m map[string]interface{}) {
			SetPath(m, []string{"location", "country"}, "Côte d’Ivoire")
			SetPath(m, []string{"location", "city"}, "東京")
			SetPath(m, []string{"location", "region"}, "Östergötland")
		}, Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{
				"source.geo.country_name": "Côte d’Ivoire", "source.geo.city_name": "東京", "source.geo.region_name": "Östergötland",
			})
		}},
		{Name: "unknown location field", Mutate: setLoc("postal_code", "M5V"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"onepassword.location.postal_code": "M5V"})
		}},

		// IP addresses
		{Name: "IPv6", Mutate: setIP("2001:DB8::1"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.ip": "2001:db8::1", "related.ip": []string{"2001:db8::1"}, rawIP: nil})
		}},
		{Name: "IPv4-mapped IPv6", Mutate: setIP("::ffff:192.0.2.1"), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.ip": "::ffff:192.0.2.1"})
		}},
		{Name: "zoned IPv6", Mutate: setIP("fe80::1%eth0"), Problems: []string{ipAt + `: "fe80::1%eth0" is not an IP address`},
			Check: invalidIP("fe80::1%eth0")},
		{Name: "invalid IP", Mutate: setIP("1.1.1.1.1"), Problems: []string{"is not an IP address"}, Check: invalidIP("1.1.1.1.1")},
		{Name: "IP with spaces", Mutate: setIP(" 10.0.0.1 "), Problems: []string{"is not an IP address"}, Check: invalidIP(" 10.0.0.1 ")},
		{Name: "empty IP", Mutate: setIP(""), Problems: []string{"is not an IP address"}, Check: invalidIP("")},
		{Name: "IP null", Mutate: setIP(nil), Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.ip": nil, "related.ip": nil, rawIP: nil})
		}},
		{Name: "IP missing", Mutate: func(m map[string]interface{}) { DeletePath(m, ip) }, Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"source.ip": nil, "related.ip": nil, rawIP: nil})
		}},
		{Name: "IP is a number", Mutate: setIP(167772161), Problems: []string{"expected a string, got number", "is not an IP address"},
			Check: invalidIP("167772161")},
		{Name: "unknown field next to the IP", Mutate: func(m map[string]interface{}) {
			SetPath(m, append(append([]string(nil), ipParent...), "new_thing"), "x")
		}, Check: func(t *testing.T, ev beat.Event) {
			Expect(t, ev, map[string]interface{}{"onepassword." + strings.Join(ipParent, ".") + ".new_thing": "x"})
		}},

		// timestamp
		{Name: "timestamp missing", Mutate: func(m map[string]interface{}) { delete(m, "timestamp") },
			Problems: []string{"timestamp: missing"},
			Check:    expectTimestamp(Received)},
		{Name: "timestamp null", Mutate: func(m map[string]interface{}) { m["timestamp"] = nil },
			Problems: []string{"timestamp: missing"},
			Check:    expectTimestamp(Received)},
		{Name: "timestamp not RFC 3339", Mutate: func(m map[string]interface{}) { m["timestamp"] = "2021-12-15 18:02:23" },
			Problems: []string{`timestamp: "2021-12-15 18:02:23" is not an RFC 3339 time`},
			Check: func(t *testing.T, ev beat.Event) {
				expectTimestamp(Received)(t, ev)
				Expect(t, ev, map[string]interface{}{"onepassword.timestamp": "2021-12-15 18:02:23"})
			}},
		{Name: "timestamp out of range", Mutate: func(m map[string]interface{}) { m["timestamp"] = "2022-10-24T21:16:62.827288935Z" },
			Problems: []string{"is not an RFC 3339 time"}, Check: expectTimestamp(Received)},
		{Name: "timestamp is a number", Mutate: func(m map[string]interface{}) { m["timestamp"] = 1639591343 },
			Problems: []string{"timestamp: `1639591343` is not an RFC 3339 time"},
			Check: func(t *testing.T, ev beat.Event) {
				expectTimestamp(Received)(t, ev)
				Expect(t, ev, map[string]interface{}{"onepassword.timestamp": "1639591343"})
			}},
		{Name: "timestamp nanoseconds", Mutate: func(m map[string]interface{}) { m["timestamp"] = "2024-12-02T11:54:21.27229198Z" },
			Check: expectTimestamp(time.Date(2024, 12, 2, 11, 54, 21, 272291980, time.UTC))},
		{Name: "timestamp whole seconds", Mutate: func(m map[string]interface{}) { m["timestamp"] = "2021-08-11T14:28:03Z" },
			Check: expectTimestamp(time.Date(2021, 8, 11, 14, 28, 3, 0, time.UTC))},
		{Name: "timestamp with offset", Mutate: func(m map[string]interface{}) { m["timestamp"] = "2020-06-11T16:32:50-03:00" },
			Check: expectTimestamp(time.Date(2020, 6, 11, 19, 32, 50, 0, time.UTC))},

		// uuid and document id
		{Name: "uuid missing", Mutate: func(m map[string]interface{}) { delete(m, "uuid") },
			Problems: []string{"uuid: missing"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"event.id": nil, "onepassword.uuid": nil})
				expectHashID(t, s.Type.Name, ev)
			}},
		{Name: "uuid is a number", Mutate: func(m map[string]interface{}) { m["uuid"] = 12345 },
			Problems: []string{"uuid: expected a string, got number"},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{"event.id": "12345"})
				if ev.Meta["_id"] != s.Type.Name+"-12345" {
					t.Errorf("_id = %v", ev.Meta["_id"])
				}
			}},
		{Name: "uuid too long for an id", Mutate: func(m map[string]interface{}) { m["uuid"] = strings.Repeat("A", 300) },
			Problems: []string{"cannot be a document id"},
			Check: func(t *testing.T, ev beat.Event) {
				expectHashID(t, s.Type.Name, ev)
				Expect(t, ev, map[string]interface{}{"event.id": strings.Repeat("A", 300)})
			}},
		{Name: "uuid with a control character", Mutate: func(m map[string]interface{}) { m["uuid"] = "A\nB" },
			Problems: []string{`uuid: "A\nB" cannot be a document id`},
			Check:    func(t *testing.T, ev beat.Event) { expectHashID(t, s.Type.Name, ev) }},

		// unknown fields
		{Name: "unknown root fields", Mutate: func(m map[string]interface{}) {
			m["new_field"] = "x"
			m["new_number"] = 42
			m["new_obj"] = map[string]interface{}{"a": 1.5, "b.c": true}
			m["mixed"] = []interface{}{1, "a"}
			m["dotted.key"] = "d"
			m["list"] = []interface{}{"a", "b"}
			m["nothing"] = nil
		}, Problems: []string{`"dotted.key": unknown field renamed to dotted_key`, "mixed: array of mixed", `new_obj."b.c": unknown field renamed to b_c`},
			Check: func(t *testing.T, ev beat.Event) {
				Expect(t, ev, map[string]interface{}{
					"onepassword.new_field":   "x",
					"onepassword.new_number":  42,
					"onepassword.new_obj.a":   1.5,
					"onepassword.new_obj.b_c": true,
					"onepassword.mixed":       `[1,"a"]`,
					"onepassword.dotted_key":  "d",
					"onepassword.list":        []string{"a", "b"},
				})
				if v, err := ev.Fields.GetValue("onepassword.new_number"); err != nil || v != int64(42) {
					t.Errorf("onepassword.new_number = %#v, want int64 42", v)
				}
			}},
		{Name: "unknown deep object", Mutate: func(m map[string]interface{}) {
			var v interface{} = "leaf"
			for i := 0; i < 12; i++ {
				v = map[string]interface{}{"n": v}
			}
			m["deep"] = v
		}, Problems: []string{"nested too deep"}},
		{Name: "unknown names of other types' fields", Mutate: func(m map[string]interface{}) {
			for k, v := range map[string]interface{}{
				"client": "x", "session": "x", "details": 5, "used_version": "abc", "aux_id": "x",
				"target_user": 1, "actor_details": true, "object_details": []interface{}{1}, "location": "x",
			} {
				if _, known := m[k]; !known {
					m[k] = v
				}
			}
		}, Problems: nil, Check: nil},

		// options
		{Name: "preserve_original", Opts: &module.MapOptions{Received: Received, PreserveOriginal: true},
			Check: func(t *testing.T, ev beat.Event) {
				got, _ := ev.Fields.GetValue("event.original")
				want := string(ToJSON(t, s.BaseMap(t)))
				if got != want {
					t.Errorf("event.original = %v, want %s", got, want)
				}
			}},
		{Name: "no receive time", Opts: &module.MapOptions{},
			Check: func(t *testing.T, ev beat.Event) { Expect(t, ev, map[string]interface{}{"event.created": nil}) }},
	}
	// The problems of the "other types' fields" case depend on the type;
	// only validity (checked by RunEdgeCases) matters there.
	for i := range cases {
		if cases[i].Name == "unknown names of other types' fields" {
			c := cases[i]
			cases = append(cases[:i], cases[i+1:]...)
			t.Run(c.Name, func(t *testing.T) {
				m := s.BaseMap(t)
				c.Mutate(m)
				ev := s.mapNoProblemCheck(t, m)
				if !Has(t, ev, "event.id") {
					t.Error("event.id lost")
				}
			})
			break
		}
	}
	s.RunEdgeCases(t, cases)

	t.Run("stable id", func(t *testing.T) {
		a, _ := s.Map(t, s.Base, Opts)
		b, _ := s.Map(t, s.Base, module.MapOptions{Received: Received.Add(time.Hour), PreserveOriginal: true})
		if a.Meta["_id"] != b.Meta["_id"] {
			t.Errorf("ids differ: %v %v", a.Meta["_id"], b.Meta["_id"])
		}
		uuid, _ := s.BaseMap(t)["uuid"].(string)
		if a.Meta["_id"] != s.Type.Name+"-"+uuid {
			t.Errorf("_id = %v, want %s-%s", a.Meta["_id"], s.Type.Name, uuid)
		}
		m := s.BaseMap(t)
		delete(m, "uuid")
		x, _ := s.Map(t, m, Opts)
		y, _ := s.Map(t, m, Opts)
		m["extra"] = 1
		z, _ := s.Map(t, m, Opts)
		if x.Meta["_id"] != y.Meta["_id"] || x.Meta["_id"] == z.Meta["_id"] {
			t.Errorf("hash ids: same item %v %v, other item %v", x.Meta["_id"], y.Meta["_id"], z.Meta["_id"])
		}
	})

	t.Run("wrong JSON type in each field", func(t *testing.T) {
		bad := []interface{}{"str", 12.5, 7, true, map[string]interface{}{"x": 1}, []interface{}{1, "a"}, []interface{}{}, nil}
		for _, p := range Paths(s.BaseMap(t)) {
			for _, v := range bad {
				m := s.BaseMap(t)
				SetPath(m, p, v)
				name := fmt.Sprintf("%s=%s", strings.Join(p, "."), show(v))
				ev := s.mapNoProblemCheck(t, m)
				// an object given where a value was expected: its key x is unknown
				s.checkDefined(t, ev, "onepassword."+strings.Join(p, ".")+".x")
				if p[0] != "uuid" && !Has(t, ev, "event.id") {
					t.Errorf("%s: event.id lost", name)
				}
				if p[0] != "timestamp" && ev.Timestamp.Equal(Received) {
					t.Errorf("%s: @timestamp lost", name)
				}
			}
		}
	})

	t.Run("not a JSON object", func(t *testing.T) {
		for _, raw := range []string{``, `   `, `null`, `[]`, `[{"uuid":"X"}]`, `"x"`, `12`, `true`, `{"uuid":`, `not json`, "\xff"} {
			ev, err := s.Type.Map([]byte(raw), Opts)
			if err == nil {
				t.Errorf("%q: no error", raw)
			}
			s.CheckEvent(t, ev)
			if !ev.Timestamp.Equal(Received) {
				t.Errorf("%q: @timestamp = %v", raw, ev.Timestamp)
			}
			Expect(t, ev, map[string]interface{}{"event.kind": "event", "event.dataset": s.Type.Dataset, "event.module": "1password"})
			if msgs := ErrorMessages(ev); len(msgs) != 1 || !strings.Contains(msgs[0], "not a JSON object") {
				t.Errorf("%q: error.message = %q", raw, msgs)
			}
			expectHashID(t, s.Type.Name, ev)
		}
	})

	t.Run("empty object", func(t *testing.T) {
		ev, err := s.Type.Map([]byte(`{}`), Opts)
		if err != nil {
			t.Fatal(err)
		}
		s.CheckEvent(t, ev)
		ExpectProblems(t, ev, "uuid: missing", "timestamp: missing")
	})
}

func (s Suite) mapNoProblemCheck(t *testing.T, item interface{}) beat.Event {
	t.Helper()
	ev, err := s.Map(t, item, Opts)
	if err != nil {
		t.Fatalf("Map: %v", err)
	}
	s.CheckEvent(t, ev)
	return ev
}

func expectTimestamp(want time.Time) func(t *testing.T, ev beat.Event) {
	return func(t *testing.T, ev beat.Event) {
		t.Helper()
		if !ev.Timestamp.Equal(want) {
			t.Errorf("@timestamp = %s, want %s", ev.Timestamp.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
		}
	}
}

func expectHashID(t *testing.T, name string, ev beat.Event) {
	t.Helper()
	id, _ := ev.Meta["_id"].(string)
	hex := strings.TrimPrefix(id, name+"-")
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		t.Errorf("_id = %q, want %s-<sha256 hex>", id, name)
	}
}

// MustJSON marshals v.
func MustJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
