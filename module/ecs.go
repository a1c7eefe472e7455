package module

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/elastic-agent-libs/mapstr"
)

// Names shared by every event type.
const (
	// ModuleName is event.module of every document.
	ModuleName = "1password"
	// FieldSet is the custom field set that holds every API field without an
	// ECS home (Elastic's integration and eventsapibeat 2.x use the same name).
	FieldSet = "onepassword"
)

// Limits that keep a broken or hostile item from producing a document that
// Elasticsearch rejects or that is absurdly large.
const (
	maxIDLen       = 256 // bytes of uuid usable in @metadata._id (ES allows 512)
	maxProblems    = 50  // error.message entries; the rest are counted
	maxSnippet     = 80  // bytes of a raw value quoted in error.message
	maxUnknownNest = 8   // object levels kept below an unknown key
)

// Mapping is the state of one API item being mapped to a document: the
// fields written so far, related.* and the problems met. Type packages get
// one from MapItem and use its methods and those of Object; they never
// build beat.Event themselves.
type Mapping struct {
	name     string
	opts     MapOptions
	raw      []byte
	fields   mapstr.M
	op       mapstr.M // fields[FieldSet]
	relUser  []string
	relIP    []string
	problems []string
	dropped  int
	uuid     string
	ts       time.Time
	arena    []member
}

// Body maps the type-specific part of an item. root is the item with uuid and
// timestamp already taken; what body leaves in it goes to onepassword.*.
type Body func(m *Mapping, root Object)

// MapItem runs the steps every event type shares around body: decoding the
// item, @timestamp, event.*, the document id, event.original, copying unknown
// fields under onepassword.*, related.*, error.message and @metadata.
//
// It returns an error only when item is not a JSON object; the event returned
// with that error is still a valid minimal document (event.*, @metadata,
// error.message) that the caller may publish.
func MapItem(name, dataset string, item []byte, opts MapOptions, body Body) (ev beat.Event, err error) {
	m := &Mapping{
		name: name,
		opts: opts,
		raw:  item,
		op:   make(mapstr.M, 16),
	}
	event := make(mapstr.M, 12)
	event["kind"] = "event"
	event["module"] = ModuleName
	event["dataset"] = dataset
	if !opts.Received.IsZero() {
		event["created"] = opts.Received
	}
	if opts.PreserveOriginal {
		event["original"] = string(item)
	}
	m.fields = make(mapstr.M, 12)
	m.fields["event"] = event

	kv, derr := parseItem(item, &m.arena)
	if derr != nil {
		m.Problemf("item is not a JSON object (%v): %s", derr, snippet(item))
		return m.finish(opts.Received, ""), fmt.Errorf("%s item is not a JSON object: %w", name, derr)
	}
	root := Object{m: m, kv: kv}

	defer func() {
		// Belt and braces: a bug in a mapper must not lose the event. Tests
		// and fuzzing treat this message as a failure.
		if r := recover(); r != nil {
			m.Problemf("internal mapping error: %v", r)
			ev, err = m.finish(m.ts, m.uuid), nil
		}
	}()

	m.ts = opts.Received
	uuid, _ := root.Str("uuid")
	m.uuid = uuid
	switch {
	case uuid == "":
		m.Problemf("uuid: missing; the document id is a hash of the item")
	case !usableID(uuid):
		m.Problemf("uuid: %s cannot be a document id; the document id is a hash of the item", quote(uuid))
	}
	if uuid != "" {
		event["id"] = uuid
		m.op["uuid"] = uuid
	}

	switch raw, ok := root.take("timestamp"); {
	case !ok || isNull(raw):
		m.Problemf("timestamp: missing; @timestamp is the time the event was received")
	default:
		if t, err := parseTime(raw); err == nil {
			m.ts = t
		} else {
			if s, ok := decodeString(raw); ok {
				m.op["timestamp"] = s
			} else {
				m.op["timestamp"] = compactText(raw)
			}
			m.Problemf("timestamp: %s is not an RFC 3339 time; @timestamp is the time the event was received, the raw value is in onepassword.timestamp", snippet(raw))
		}
	}

	body(m, root)
	root.Rest("")
	return m.finish(m.ts, uuid), nil
}

// finish assembles the beat.Event.
func (m *Mapping) finish(ts time.Time, uuid string) beat.Event {
	if len(m.op) > 0 {
		m.fields[FieldSet] = m.op
	}
	if len(m.relUser) > 0 || len(m.relIP) > 0 {
		related := mapstr.M{}
		if len(m.relUser) > 0 {
			related["user"] = m.relUser
		}
		if len(m.relIP) > 0 {
			related["ip"] = m.relIP
		}
		m.fields["related"] = related
	}
	if n := len(m.problems); n > 0 {
		if m.dropped > 0 {
			m.problems = append(m.problems, fmt.Sprintf("%d more problems not listed", m.dropped))
			n++
		}
		var msg interface{} = m.problems
		if n == 1 {
			msg = m.problems[0]
		}
		m.fields["error"] = mapstr.M{"message": msg}
	}
	return beat.Event{
		Timestamp: ts,
		Meta: mapstr.M{
			"_id":        DocumentID(m.name, uuid, m.raw),
			"event_type": m.name,
		},
		Fields: m.fields,
	}
}

// DocumentID is the stable @metadata._id of an item: "<name>-<uuid>", or
// "<name>-<hex sha256 of the raw item>" when the uuid is missing or not
// usable as an id (too long, control characters, invalid UTF-8). Either way
// a replayed item gets the same id and overwrites instead of duplicating.
func DocumentID(name, uuid string, raw []byte) string {
	if usableID(uuid) {
		return name + "-" + uuid
	}
	sum := sha256.Sum256(raw)
	return name + "-" + hex.EncodeToString(sum[:])
}

func usableID(s string) bool {
	if s == "" || len(s) > maxIDLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// Problemf records a mapping problem for error.message. Messages name the
// API field ("client.ip_address: …") and say what was done about it.
func (m *Mapping) Problemf(format string, args ...interface{}) {
	if len(m.problems) >= maxProblems {
		m.dropped++
		return
	}
	m.problems = append(m.problems, fmt.Sprintf(format, args...))
}

// Put sets a document field by dotted path (e.g. "event.action").
func (m *Mapping) Put(path string, v interface{}) {
	put(m.fields, path, v)
}

// PutOP sets onepassword.<path>.
func (m *Mapping) PutOP(path string, v interface{}) {
	put(m.op, path, v)
}

// OP returns the object onepassword.<path> (dotted), creating it.
func (m *Mapping) OP(path string) mapstr.M {
	root := m.op
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			return subMap(root, path)
		}
		root = subMap(root, path[:i])
		path = path[i+1:]
	}
}

// put sets root[path] for a dotted path, creating (or replacing scalars
// with) objects on the way, without allocating for the path itself.
func put(root mapstr.M, path string, v interface{}) {
	for {
		i := strings.IndexByte(path, '.')
		if i < 0 {
			root[path] = v
			return
		}
		root = subMap(root, path[:i])
		path = path[i+1:]
	}
}

// subMap returns the object root[key], creating it when absent.
func subMap(root mapstr.M, key string) mapstr.M {
	if m, ok := root[key].(mapstr.M); ok {
		return m
	}
	m := make(mapstr.M, 4)
	root[key] = m
	return m
}

// getMap returns the object at the dotted path, if there is one; ok is
// false when something that is not an object is there.
func getMap(root mapstr.M, path string) (m mapstr.M, exists, ok bool) {
	for {
		i := strings.IndexByte(path, '.')
		key := path
		if i >= 0 {
			key = path[:i]
		}
		v, found := root[key]
		if !found {
			return nil, false, true
		}
		next, isMap := v.(mapstr.M)
		if !isMap {
			return nil, true, false
		}
		if i < 0 {
			return next, true, true
		}
		root, path = next, path[i+1:]
	}
}

// Event returns the event.* object of the document.
func (m *Mapping) Event() mapstr.M {
	return m.fields["event"].(mapstr.M)
}

// AddRelatedUser appends non-empty values to related.user, without duplicates.
func (m *Mapping) AddRelatedUser(vals ...string) {
	m.relUser = appendUnique(m.relUser, vals...)
}

// AddRelatedIP appends non-empty values to related.ip, without duplicates.
// Callers pass only addresses that parsed (see SourceIP).
func (m *Mapping) AddRelatedIP(vals ...string) {
	m.relIP = appendUnique(m.relIP, vals...)
}

func appendUnique(list []string, vals ...string) []string {
next:
	for _, v := range vals {
		if v == "" {
			continue
		}
		for _, have := range list {
			if have == v {
				continue next
			}
		}
		list = append(list, v)
	}
	return list
}

// Person is someone an event names: its user, actor or target.
type Person struct {
	ID, Name, Email string
}

// IsZero reports whether nothing is known about the person.
func (p Person) IsZero() bool { return p.ID == "" && p.Name == "" && p.Email == "" }

// SetUser writes user.id, user.email, user.full_name and its copy user.name.
func (m *Mapping) SetUser(p Person) { m.setPerson("user", p) }

// SetTargetUser writes user.target.* like SetUser.
func (m *Mapping) SetTargetUser(p Person) { m.setPerson("user.target", p) }

func (m *Mapping) setPerson(prefix string, p Person) {
	if p.IsZero() {
		return
	}
	u := subMap(m.fields, "user")
	if prefix != "user" {
		u = subMap(u, "target")
	}
	if p.ID != "" {
		u["id"] = p.ID
	}
	if p.Email != "" {
		u["email"] = p.Email
	}
	if p.Name != "" {
		u["full_name"] = p.Name
		u["name"] = p.Name
	}
}

// --- shared sub-objects ---------------------------------------------------

// UserObject maps a v1 User / v2 UserV2 object (sign-in target_user, item
// usage user): user.* and related.user in Elastic's order (uuid, email,
// name); the v2 user_type and user_account_uuid go to onepassword.*, and any
// other key to onepassword.<key of o>.*.
func (m *Mapping) UserObject(o Object) Person {
	p := o.Person()
	m.SetUser(p)
	m.AddRelatedUser(p.ID, p.Email, p.Name)
	o.CopyStrings("", "user_type", "user_account_uuid")
	o.Rest(o.key)
	return p
}

// ClientObject maps the client object of sign-ins and item usages: the app
// and platform to onepassword.client.*, os_name/os_version to host.os.*,
// ip_address to source.ip and related.ip.
func (m *Mapping) ClientObject(o Object) {
	o.CopyStrings("client", "app_name", "app_version", "platform_name", "platform_version")
	if s, ok := o.Str("os_name"); ok && s != "" {
		m.Put("host.os.name", s)
	}
	if s, ok := o.Str("os_version"); ok && s != "" {
		m.Put("host.os.version", s)
	}
	m.SourceIP(o, "ip_address", "client.ip_address")
	o.Rest("client")
}

// SourceIP takes o[key] as the client address: source.ip and related.ip when
// it parses as an IP address; otherwise the raw value is kept in the keyword
// field onepassword.<rawPath> and the problem is recorded.
func (m *Mapping) SourceIP(o Object, key, rawPath string) {
	s, ok := o.Str(key)
	if !ok {
		return
	}
	if ip, ok := ParseIP(s); ok {
		m.Put("source.ip", ip)
		m.AddRelatedIP(ip)
		return
	}
	m.PutOP(rawPath, s)
	m.Problemf("%s: %s is not an IP address; source.ip left out, the raw value is in onepassword.%s", o.at(key), quote(s), rawPath)
}

// ParseIP validates an address for an Elasticsearch ip field and returns it
// in canonical form. Zoned IPv6 addresses ("fe80::1%eth0") are refused.
func ParseIP(s string) (string, bool) {
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" {
		return "", false
	}
	return addr.String(), true
}

// LocationObject maps 1Password's own location object to source.geo.*:
// city_name, region_name, country_iso_code (a 2-letter code) or
// country_name (anything else), and location {lat, lon} when both are
// finite numbers in range.
func (m *Mapping) LocationObject(o Object) {
	geo := mapstr.M{}
	if s, ok := o.Str("city"); ok && s != "" {
		geo["city_name"] = s
	}
	if s, ok := o.Str("region"); ok && s != "" {
		geo["region_name"] = s
	}
	if s, ok := o.Str("country"); ok && s != "" {
		if isCountryCode(s) {
			geo["country_iso_code"] = strings.ToUpper(s)
		} else {
			geo["country_name"] = s
		}
	}
	lat, hasLat := o.Float("latitude")
	lon, hasLon := o.Float("longitude")
	switch {
	case hasLat && hasLon:
		if validLat(lat) && validLon(lon) {
			geo["location"] = mapstr.M{"lat": lat, "lon": lon}
		} else {
			m.Problemf("%s: latitude %v, longitude %v is out of range; source.geo.location left out", o.path, lat, lon)
		}
	case hasLat || hasLon:
		m.Problemf("%s: latitude and longitude must both be present; source.geo.location left out", o.path)
	}
	if len(geo) > 0 {
		m.Put("source.geo", geo)
	}
	o.Rest("location")
}

func isCountryCode(s string) bool {
	return len(s) == 2 && isASCIILetter(s[0]) && isASCIILetter(s[1])
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func validLat(f float64) bool { return !math.IsNaN(f) && f >= -90 && f <= 90 }
func validLon(f float64) bool { return !math.IsNaN(f) && f >= -180 && f <= 180 }

// AccountUUID maps the v2 account_uuid of o: onepassword.account_uuid and
// organization.id.
func (m *Mapping) AccountUUID(o Object) {
	if s, ok := o.Str("account_uuid"); ok {
		m.PutOP("account_uuid", s)
		if s != "" {
			m.Put("organization.id", s)
		}
	}
}

// --- Object ------------------------------------------------------------------

// Object is one JSON object of the item being mapped. Each accessor takes
// its key, so what is left at the end is unknown and goes to onepassword.*
// through Rest. A value of the wrong JSON type is recorded as a problem and
// either converted when that is lossless and safe, or left out. As with
// encoding/json, the last of duplicate keys wins.
type Object struct {
	m    *Mapping
	path string // path of this object in the item, for messages ("" = root)
	key  string // last element of path
	kv   []member
}

// Len is the number of keys not taken yet.
func (o Object) Len() int {
	n := 0
	for i := range o.kv {
		if !o.kv[i].taken {
			n++
		}
	}
	return n
}

// find returns the index of the last untaken member named key, or -1.
func (o Object) find(key string) int {
	for i := len(o.kv) - 1; i >= 0; i-- {
		if !o.kv[i].taken && o.kv[i].is(key) {
			return i
		}
	}
	return -1
}

// Has reports whether key is present and not null.
func (o Object) Has(key string) bool {
	i := o.find(key)
	return i >= 0 && !isNull(o.kv[i].raw)
}

// IsString reports whether key is present and holds a JSON string.
func (o Object) IsString(key string) bool {
	i := o.find(key)
	return i >= 0 && len(o.kv[i].raw) > 0 && o.kv[i].raw[0] == '"'
}

func (o Object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// take returns the value of key and marks every member with that key taken.
func (o Object) take(key string) (json.RawMessage, bool) {
	i := o.find(key)
	if i < 0 {
		return nil, false
	}
	raw := o.kv[i].raw
	for j := i; j >= 0; j-- {
		if !o.kv[j].taken && o.kv[j].is(key) {
			o.kv[j].taken = true
		}
	}
	return raw, true
}

// Str takes a string. Absent or null: ("", false). Another JSON type is kept
// as its JSON text (safe for a keyword field) and recorded as a problem.
func (o Object) Str(key string) (string, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return "", false
	}
	if s, ok := decodeString(raw); ok {
		return s, true
	}
	text := compactText(raw)
	o.m.Problemf("%s: expected a string, got %s %s; kept as text", o.at(key), kindOf(raw), snippet(raw))
	return text, true
}

// Int takes an integer for a long field. An integral float or a numeric
// string is converted (and recorded); anything else is left out and recorded.
func (o Object) Int(key string) (int64, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return 0, false
	}
	switch raw[0] {
	case '"':
		s, _ := decodeString(raw)
		if n, ok := parseInt(strings.TrimSpace(s)); ok {
			o.m.Problemf("%s: expected an integer, got string %s; converted", o.at(key), snippet(raw))
			return n, true
		}
	default:
		if isNumber(raw) {
			if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
				return n, true
			}
			if n, ok := parseInt(string(raw)); ok {
				o.m.Problemf("%s: expected an integer, got %s; converted to %d", o.at(key), snippet(raw), n)
				return n, true
			}
		}
	}
	o.m.Problemf("%s: expected an integer, got %s %s; left out", o.at(key), kindOf(raw), snippet(raw))
	return 0, false
}

// parseInt accepts an integer, or a number with an integral value, that fits
// in an int64.
func parseInt(s string) (int64, bool) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Float takes a number. A numeric string is converted (and recorded);
// anything else is left out and recorded.
func (o Object) Float(key string) (float64, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return 0, false
	}
	if isNumber(raw) {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, true
		}
	} else if raw[0] == '"' {
		s, _ := decodeString(raw)
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			o.m.Problemf("%s: expected a number, got string %s; converted", o.at(key), snippet(raw))
			return f, true
		}
	}
	o.m.Problemf("%s: expected a number, got %s %s; left out", o.at(key), kindOf(raw), snippet(raw))
	return 0, false
}

// Time takes an RFC 3339 time for a date field and returns it normalised
// (RFC 3339 with at most nanoseconds, the offset kept). Anything else is left
// out and recorded.
func (o Object) Time(key string) (string, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return "", false
	}
	t, err := parseTime(raw)
	if err != nil {
		o.m.Problemf("%s: %s is not an RFC 3339 time; left out", o.at(key), snippet(raw))
		return "", false
	}
	return t.Format(time.RFC3339Nano), true
}

func parseTime(raw json.RawMessage) (time.Time, error) {
	s, ok := decodeString(raw)
	if !ok {
		return time.Time{}, fmt.Errorf("not a string")
	}
	return time.Parse(time.RFC3339Nano, s)
}

// Obj takes a nested object. Absent or null: false. Another JSON type is
// left out and recorded.
func (o Object) Obj(key string) (Object, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return Object{}, false
	}
	if raw[0] == '{' {
		if kv, err := splitObject(raw, &o.m.arena); err == nil {
			return Object{m: o.m, path: o.at(key), key: key, kv: kv}, true
		}
	}
	o.m.Problemf("%s: expected an object, got %s %s; left out", o.at(key), kindOf(raw), snippet(raw))
	return Object{}, false
}

// Person takes uuid, name and email.
func (o Object) Person() Person {
	var p Person
	p.ID, _ = o.Str("uuid")
	p.Name, _ = o.Str("name")
	p.Email, _ = o.Str("email")
	return p
}

// CopyStrings copies each present key as a string to onepassword.<dst>.<key>
// (dst "" = onepassword.<key>).
func (o Object) CopyStrings(dst string, keys ...string) {
	var target mapstr.M
	for _, k := range keys {
		if s, ok := o.Str(k); ok {
			if target == nil {
				target = o.m.op
				if dst != "" {
					target = subMap(o.m.op, dst)
				}
			}
			target[k] = s
		}
	}
}

// Rest copies the keys not taken yet to onepassword.<dst>.<key> (dst "" =
// onepassword.<key>), as decoded JSON values made safe for indexing: keys
// with dots are renamed, mixed arrays and very deep objects become JSON text.
// A key that would overwrite a field already written is recorded instead.
func (o Object) Rest(dst string) {
	if o.Len() == 0 {
		return
	}
	target := o.m.op
	if dst != "" {
		sub, exists, ok := getMap(o.m.op, dst)
		switch {
		case ok && exists:
			target = sub
		case ok:
			target = make(mapstr.M, 4)
			o.m.PutOP(dst, target)
		default:
			// dst holds a scalar already: nothing sensible to merge into.
			for i := range o.kv {
				if !o.kv[i].taken {
					o.kv[i].taken = true
					o.m.Problemf("%s: unknown field left out (onepassword.%s is not an object)", o.at(o.kv[i].name()), dst)
				}
			}
			return
		}
	}
	o.m.putUnknown(target, o.kv, o.path, dst, 0)
}

// putUnknown writes the untaken members to target (onepassword.<opPath>),
// in document order. The last of duplicate keys wins; a key renamed onto a
// name already used is recorded instead.
func (m *Mapping) putUnknown(target mapstr.M, kv []member, apiPath, opPath string, depth int) {
	var from map[string]string // written name -> original key, for renamed keys
	for i := range kv {
		mb := &kv[i]
		if mb.taken || laterDuplicate(kv, i) {
			continue
		}
		mb.taken = true
		k := mb.name()
		at := joinPath(apiPath, k)
		name := sanitizeKey(k)
		if name != k {
			at = joinPath(apiPath, quote(k))
			m.Problemf("%s: unknown field renamed to %s", at, name)
			if from == nil {
				from = map[string]string{}
			}
		}
		if _, exists := target[name]; exists {
			if orig, ok := from[name]; !ok || orig != k {
				m.Problemf("%s: unknown field left out, it would overwrite onepassword.%s: %s", at, joinPath(opPath, name), snippet(mb.raw))
				continue
			}
		}
		if from != nil {
			from[name] = k
		}
		if v, ok := m.unknownValue(mb.raw, at, joinPath(opPath, name), depth); ok {
			target[name] = v
		}
	}
}

// laterDuplicate reports whether an untaken member after i has the same key.
func laterDuplicate(kv []member, i int) bool {
	for j := i + 1; j < len(kv); j++ {
		if !kv[j].taken && string(kv[j].keyRaw) == string(kv[i].keyRaw) {
			return true
		}
	}
	return false
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// sanitizeKey makes an unknown key a valid, non-nested Elasticsearch field
// name: dots (path separators) become underscores, an empty name becomes "_".
func sanitizeKey(k string) string {
	if strings.TrimSpace(k) == "" {
		return "_"
	}
	if strings.IndexByte(k, '.') >= 0 {
		return strings.ReplaceAll(k, ".", "_")
	}
	return k
}

// unknownValue decodes the value of an unknown field written at
// onepassword.<opPath>. Where an event type's fields.yml maps that name
// (see fieldType), the value must fit the mapping: an object or array goes
// into a keyword field as JSON text, anything else that does not fit is left
// out. ok is false when the value is left out.
func (m *Mapping) unknownValue(raw json.RawMessage, apiPath, opPath string, depth int) (v interface{}, ok bool) {
	if isNull(raw) {
		return nil, true
	}
	switch ft := fieldType(opPath); ft {
	case "":
	case "group":
		if raw[0] != '{' {
			m.Problemf("%s: unknown field left out, onepassword.%s is an object: %s", apiPath, opPath, snippet(raw))
			return nil, false
		}
	case "keyword", "text", "match_only_text", "wildcard", "constant_keyword":
		if raw[0] == '{' || raw[0] == '[' && !scalarArray(raw) {
			m.Problemf("%s: %s kept as JSON text in the keyword field onepassword.%s", apiPath, kindOf(raw), opPath)
			return compactText(raw), true
		}
	case "long", "integer", "short", "byte":
		if isNumber(raw) {
			if n, ok := parseInt(string(raw)); ok {
				return n, true
			}
		}
		m.Problemf("%s: unknown field left out, onepassword.%s is an integer: %s", apiPath, opPath, snippet(raw))
		return nil, false
	case "date":
		if t, err := parseTime(raw); err == nil {
			return t.Format(time.RFC3339Nano), true
		}
		m.Problemf("%s: unknown field left out, onepassword.%s is a date: %s", apiPath, opPath, snippet(raw))
		return nil, false
	default:
		m.Problemf("%s: unknown field left out, onepassword.%s is mapped as %s: %s", apiPath, opPath, ft, snippet(raw))
		return nil, false
	}

	switch raw[0] {
	case 't':
		return true, true
	case 'f':
		return false, true
	case '"':
		s, _ := decodeString(raw)
		return s, true
	case '{':
		if depth >= maxUnknownNest {
			m.Problemf("%s: nested too deep, kept as JSON text", apiPath)
			return compactText(raw), true
		}
		kv, err := splitObject(raw, nil)
		if err != nil {
			return compactText(raw), true
		}
		out := make(mapstr.M, len(kv))
		m.putUnknown(out, kv, apiPath, opPath, depth+1)
		return out, true
	case '[':
		elems, err := splitArray(raw)
		if err != nil {
			return compactText(raw), true
		}
		// Elasticsearch needs the elements of an array to share one type.
		var kind byte
		for _, e := range elems {
			k := kindByte(e)
			if k == 'n' {
				continue
			}
			if k == '[' || (kind != 0 && k != kind) || (k == '{' && depth >= maxUnknownNest) {
				m.Problemf("%s: array of mixed or nested values, kept as JSON text", apiPath)
				return compactText(raw), true
			}
			kind = k
		}
		out := make([]interface{}, 0, len(elems))
		for _, e := range elems {
			if v, ok := m.unknownValue(e, apiPath, opPath, depth+1); ok {
				out = append(out, v)
			}
		}
		return out, true
	default:
		return numberValue(raw), true
	}
}

// scalarArray reports whether raw is an array of strings, numbers, booleans
// and nulls only.
func scalarArray(raw json.RawMessage) bool {
	elems, err := splitArray(raw)
	if err != nil {
		return false
	}
	for _, e := range elems {
		if k := kindByte(e); k == '{' || k == '[' {
			return false
		}
	}
	return true
}

func kindByte(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 'n'
	}
	switch c := raw[0]; c {
	case 'n', '"', '{', '[':
		return c
	case 't', 'f':
		return 't'
	default:
		return '0'
	}
}

// numberValue returns an int64 when the number is an integer that fits,
// else a float64; a number a float64 cannot hold is kept as text.
func numberValue(raw json.RawMessage) interface{} {
	s := string(raw)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return s
}

// --- JSON helpers -----------------------------------------------------------

// decodeString decodes a JSON string, without allocating twice for the
// common case of a plain (escape-free, valid UTF-8) string.
func decodeString(raw json.RawMessage) (string, bool) {
	n := len(raw)
	if n < 2 || raw[0] != '"' {
		return "", false
	}
	body := raw[1 : n-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || raw[0] == 'n'
}

func isNumber(raw json.RawMessage) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

func kindOf(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if isNumber(raw) {
		return "number"
	}
	return "non-JSON"
}

// compactText is the compact JSON text of a value (for keyword fields).
func compactText(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}

// snippet quotes at most maxSnippet bytes of a raw value for a message.
func snippet(raw []byte) string {
	s := string(raw)
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
		s = compactText(raw)
	}
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if len(raw) > 0 && raw[0] == '"' {
		return s
	}
	return "`" + s + "`"
}

func quote(s string) string {
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}
