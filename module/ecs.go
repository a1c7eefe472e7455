package module

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
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
//
// A Mapping is reused from item to item (see mappings): the document never
// points into its scratch fields (rd, relUser, relIP, types), and the
// fields that the document does point into (maps, lists, problems) are
// dropped, not reused, when it is released.
type Mapping struct {
	name string
	opts MapOptions
	raw  []byte
	// text is string(raw), the one copy of the item that the document
	// holds: strings without escapes are substrings of it (and
	// event.original is all of it).
	text     string
	fields   mapstr.M
	event    mapstr.M // fields["event"]
	op       mapstr.M // fields[FieldSet]
	problems []string
	dropped  int
	uuid     string // usable as the document id, else ""
	ts       time.Time
	category string

	// scratch, kept between items
	rd      reader
	relUser []string
	relIP   []string
	types   []string
	elems   []json.RawMessage // of the arrays being read (unknown fields)
	path    []segment         // of the unknown value being written
	// event.created boxed, for the items of one page (an interface{}
	// holding a time.Time is immutable, so documents can share it).
	created    time.Time
	createdBox interface{}
}

// mappings recycles the scratch of MapItem between items.
var mappings = sync.Pool{New: func() interface{} { return new(Mapping) }}

// maxPooledMembers bounds the scratch kept for the next item, so that one
// huge item does not pin its scratch for ever.
const maxPooledMembers = 1024

// release clears m and returns it to mappings.
func (m *Mapping) release() {
	rd := m.rd
	if cap(rd.arena) > maxPooledMembers || cap(rd.pend) > maxPooledMembers || cap(rd.stack) > maxPooledMembers ||
		cap(rd.keys) > maxPooledMembers || cap(m.relUser) > maxPooledMembers || cap(m.relIP) > maxPooledMembers ||
		cap(m.types) > maxPooledMembers || cap(m.elems) > maxPooledMembers || cap(m.path) > maxPooledMembers {
		return
	}
	rd.reset()
	// Drop what points into the item or the document (the reader's
	// arena holds offsets only).
	clear(m.relUser)
	clear(m.relIP)
	clear(m.types)
	clear(m.elems[:cap(m.elems)])
	clear(m.path[:cap(m.path)])
	*m = Mapping{
		rd:      rd,
		relUser: m.relUser[:0], relIP: m.relIP[:0], types: m.types[:0], elems: m.elems[:0], path: m.path[:0],
		created: m.created, createdBox: m.createdBox,
	}
	mappings.Put(m)
}

// Body maps the type-specific part of an item. root is the item with uuid and
// timestamp already taken; what body leaves in it goes to onepassword.*.
type Body func(m *Mapping, root Object)

// Sizes are about how many fields a typical item of an event type gets in
// event.* (all told, event.original aside) and in onepassword.*, for
// MapItemSized to make those objects the right size at once (a Go map of up
// to 8 entries takes two allocations, a larger one four).
type Sizes struct {
	Event, OnePassword int
}

// MapItem runs the steps every event type shares around body: decoding the
// item, @timestamp, event.*, the document id, event.original, copying unknown
// fields under onepassword.*, related.*, error.message and @metadata.
//
// It returns an error only when item is not a JSON object; the event returned
// with that error is still a valid minimal document (event.*, @metadata,
// error.message) that the caller may publish.
func MapItem(name, dataset string, item []byte, opts MapOptions, body Body) (beat.Event, error) {
	return MapItemSized(name, dataset, Sizes{Event: 11, OnePassword: 16}, item, opts, body)
}

// MapItemSized is MapItem with the sizes of event.* and onepassword.*.
func MapItemSized(name, dataset string, sizes Sizes, item []byte, opts MapOptions, body Body) (beat.Event, error) {
	m := mappings.Get().(*Mapping)
	ev, err := m.mapItem(name, dataset, sizes, item, opts, body)
	m.release()
	return ev, err
}

func (m *Mapping) mapItem(name, dataset string, sizes Sizes, item []byte, opts MapOptions, body Body) (ev beat.Event, err error) {
	m.name = name
	m.opts = opts
	m.raw = item
	m.text = string(item)
	m.fields = make(mapstr.M, 8)
	m.op = make(mapstr.M, sizes.OnePassword)
	hint := sizes.Event
	if opts.PreserveOriginal {
		hint++
	}
	event := make(mapstr.M, hint)
	m.event = event
	m.fields["event"] = event
	event["kind"] = "event"
	event["module"] = ModuleName

	kv, dup, derr := m.rd.parse(item)
	event["dataset"] = dataset
	if !opts.Received.IsZero() {
		if m.createdBox == nil || m.created != opts.Received {
			// common.Time in UTC is what libbeat's event normalization
			// would make of it; the beat publishes without that pass.
			m.created, m.createdBox = opts.Received, common.Time(opts.Received.UTC())
		}
		event["created"] = m.createdBox
	}
	if opts.PreserveOriginal {
		event["original"] = m.text
	}
	if derr != nil {
		m.Problemf("item is not a JSON object (%v): %s", derr, snippet(item))
		return m.finish(opts.Received), fmt.Errorf("%s item is not a JSON object: %w", name, derr)
	}
	root := Object{m: m, kv: kv, dup: dup}

	defer func() {
		// Belt and braces: a bug in a mapper must not lose the event. Tests
		// and fuzzing treat this message as a failure.
		if r := recover(); r != nil {
			m.Problemf("internal mapping error: %v", r)
			ev, err = m.finish(m.ts), nil
		}
	}()

	m.ts = opts.Received
	uuid, _ := root.Str("uuid")
	switch {
	case uuid == "":
		m.Problemf("uuid: missing; the document id is a hash of the item")
	case usableID(uuid):
		m.uuid = uuid // the document id
	default:
		m.Problemf("uuid: %s cannot be a document id; the document id is a hash of the item", quote(uuid))
	}
	if uuid != "" {
		v := uuid
		event["id"] = v
		m.op["uuid"] = v
	}

	switch raw, ok := root.take("timestamp"); {
	case !ok || isNull(raw):
		m.Problemf("timestamp: missing; @timestamp is the time the event was received")
	default:
		if t, err := m.parseTime(raw); err == nil {
			m.ts = t
		} else {
			if s, ok := m.decode(raw, strEsc|strHigh); ok {
				m.op["timestamp"] = s
			} else {
				m.op["timestamp"] = compactText(raw)
			}
			m.Problemf("timestamp: %s is not an RFC 3339 time; @timestamp is the time the event was received, the raw value is in onepassword.timestamp", snippet(raw))
		}
	}

	body(m, root)
	root.Rest("")
	return m.finish(m.ts), nil
}

// Categorize sets event.category to [category] and event.type to the
// non-empty types, in order.
func (m *Mapping) Categorize(category string, types ...string) {
	m.category = category
	m.types = m.types[:0]
	for _, t := range types {
		if t != "" {
			m.types = append(m.types, t)
		}
	}
}

// finish assembles the beat.Event.
func (m *Mapping) finish(ts time.Time) beat.Event {
	if len(m.op) > 0 {
		m.fields[FieldSet] = m.op
	}
	m.putLists()
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
	meta := make(mapstr.M, 2)
	meta["_id"] = documentID(m.name, m.uuid, m.raw)
	meta["event_type"] = m.name
	return beat.Event{
		Timestamp: ts,
		Meta:      meta,
		Fields:    m.fields,
	}
}

// putLists writes event.category, event.type, related.user and related.ip.
func (m *Mapping) putLists() {
	if m.category != "" {
		m.event["category"] = boxList(m.category)
	}
	if len(m.types) > 0 {
		m.event["type"] = boxList(m.types...)
	}
	if nu, ni := len(m.relUser), len(m.relIP); nu > 0 || ni > 0 {
		related := make(mapstr.M, 2)
		if nu > 0 {
			related["user"] = boxList(m.relUser...)
		}
		if ni > 0 {
			related["ip"] = boxList(m.relIP...)
		}
		m.fields["related"] = related
	}
}

// DocumentID is the stable @metadata._id of an item: "<name>-<uuid>", or
// "<name>-<hex sha256 of the raw item>" when the uuid is missing or not
// usable as an id (too long, control characters, invalid UTF-8). Either way
// a replayed item gets the same id, so Elasticsearch (op_type create)
// answers 409 for it and keeps the first copy instead of duplicating.
func DocumentID(name, uuid string, raw []byte) string {
	if !usableID(uuid) {
		uuid = ""
	}
	return documentID(name, uuid, raw)
}

// documentID is DocumentID for a uuid known to be usable or "".
func documentID(name, uuid string, raw []byte) string {
	if uuid != "" {
		return name + "-" + uuid
	}
	sum := sha256.Sum256(raw)
	return name + "-" + hex.EncodeToString(sum[:])
}

func usableID(s string) bool {
	if s == "" || len(s) > maxIDLen {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		} else if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	if ascii {
		return true
	}
	if !utf8.ValidString(s) {
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
	return m.event
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
		name := p.Name
		u["full_name"] = name
		u["name"] = name
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
	var buf [64]byte
	if canon := addr.AppendTo(buf[:0]); string(canon) != s {
		return string(canon), true
	}
	return s, true // already canonical: no copy
}

// LocationObject maps 1Password's own location object to source.geo.*:
// city_name, region_name, country_iso_code (a 2-letter code) or
// country_name (anything else), and location {lat, lon} when both are
// finite numbers in range.
func (m *Mapping) LocationObject(o Object) {
	geo := make(mapstr.M, 5)
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
			loc := make(mapstr.M, 2)
			loc["lat"], loc["lon"] = lat, lon
			geo["location"] = loc
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
		v := s
		m.PutOP("account_uuid", v)
		if s != "" {
			m.Put("organization.id", v)
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
	kv   []field
	dup  bool // two fields may have the same key
	cur  int  // where find looks first: after the last key found
}

// Len is the number of keys not taken yet.
func (o *Object) Len() int {
	n := 0
	for i := range o.kv {
		if !o.kv[i].taken {
			n++
		}
	}
	return n
}

// find returns the index of the last untaken field named key, or -1.
func (o *Object) find(key string) int {
	tag := keyTag(key)
	if !o.dup {
		// The keys are distinct: look from the last key found on, as
		// mappers mostly read an item's keys in the API's order.
		kv, i := o.kv, o.cur
		for range kv {
			if i >= len(kv) {
				i = 0
			}
			if f := &kv[i]; f.tag == tag && !f.taken && o.m.key(f) == key {
				o.cur = i + 1
				return i
			}
			i++
		}
		return -1
	}
	for i := len(o.kv) - 1; i >= 0; i-- {
		if f := &o.kv[i]; f.tag == tag && !f.taken && o.m.key(f) == key {
			return i
		}
	}
	return -1
}

// key returns the decoded key of a field.
func (m *Mapping) key(f *field) string {
	if f.key < 0 {
		return m.text[f.koff+1 : f.kend-1]
	}
	return m.rd.keys[f.key]
}

// value returns the value of a field as written.
func (m *Mapping) value(f *field) json.RawMessage {
	return m.raw[f.voff:f.vend]
}

// Has reports whether key is present and not null.
func (o *Object) Has(key string) bool {
	i := o.find(key)
	return i >= 0 && o.m.raw[o.kv[i].voff] != 'n'
}

// IsString reports whether key is present and holds a JSON string.
func (o *Object) IsString(key string) bool {
	i := o.find(key)
	return i >= 0 && o.m.raw[o.kv[i].voff] == '"'
}

func (o *Object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// take returns the value of key and marks every field with that key taken.
func (o *Object) take(key string) (json.RawMessage, bool) {
	f := o.takeField(key)
	if f == nil {
		return nil, false
	}
	return o.m.value(f), true
}

// takeField is take returning the field (nil when absent).
func (o *Object) takeField(key string) *field {
	i := o.find(key)
	if i < 0 {
		return nil
	}
	o.kv[i].taken = true
	if !o.dup {
		return &o.kv[i]
	}
	tag := o.kv[i].tag
	for j := i - 1; j >= 0; j-- {
		if f := &o.kv[j]; f.tag == tag && !f.taken && o.m.key(f) == key {
			f.taken = true
		}
	}
	return &o.kv[i]
}

// Str takes a string. Absent or null: ("", false). Another JSON type is kept
// as its JSON text (safe for a keyword field) and recorded as a problem.
func (o *Object) Str(key string) (string, bool) {
	f := o.takeField(key)
	if f == nil || o.m.raw[f.voff] == 'n' {
		return "", false
	}
	if f.flags&(strEsc|strHigh) == 0 && o.m.raw[f.voff] == '"' {
		return o.m.text[f.voff+1 : f.vend-1], true // as written
	}
	raw := o.m.value(f)
	if s, ok := o.m.decode(raw, f.flags); ok {
		return s, true
	}
	text := compactText(raw)
	o.m.Problemf("%s: expected a string, got %s %s; kept as text", o.at(key), kindOf(raw), snippet(raw))
	return text, true
}

// Int takes an integer for a long field. An integral float or a numeric
// string is converted (and recorded); anything else is left out and recorded.
func (o *Object) Int(key string) (int64, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return 0, false
	}
	switch raw[0] {
	case '"':
		s, _ := o.m.decode(raw, strEsc|strHigh)
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
func (o *Object) Float(key string) (float64, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return 0, false
	}
	if isNumber(raw) {
		if f, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return f, true
		}
	} else if raw[0] == '"' {
		s, _ := o.m.decode(raw, strEsc|strHigh)
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
func (o *Object) Time(key string) (string, bool) {
	raw, ok := o.take(key)
	if !ok || isNull(raw) {
		return "", false
	}
	s, _ := o.m.decode(raw, strEsc|strHigh)
	t, err := parseTime(raw, s)
	if err != nil {
		o.m.Problemf("%s: %s is not an RFC 3339 time; left out", o.at(key), snippet(raw))
		return "", false
	}
	return formatTime(t, s), true
}

var errNotString = errors.New("not a string")

// parseTime parses raw, a JSON string whose decoded value is s.
func parseTime(raw json.RawMessage, s string) (time.Time, error) {
	if len(raw) == 0 || raw[0] != '"' {
		return time.Time{}, errNotString
	}
	return time.Parse(time.RFC3339Nano, s)
}

func (m *Mapping) parseTime(raw json.RawMessage) (time.Time, error) {
	s, _ := m.decode(raw, strEsc|strHigh)
	return parseTime(raw, s)
}

// formatTime formats t, parsed from s, as RFC 3339 with at most
// nanoseconds: s itself when it is already so written.
func formatTime(t time.Time, s string) string {
	var buf [64]byte
	if b := t.AppendFormat(buf[:0], time.RFC3339Nano); string(b) != s {
		return string(b)
	}
	return s
}

// Obj takes a nested object. Absent or null: false. Another JSON type is
// left out and recorded.
func (o *Object) Obj(key string) (Object, bool) {
	f := o.takeField(key)
	if f == nil || o.m.raw[f.voff] == 'n' {
		return Object{}, false
	}
	raw := o.m.value(f)
	if raw[0] == '{' {
		if kv, dup, ok := o.m.objectFields(f); ok {
			return Object{m: o.m, path: o.at(key), key: key, kv: kv, dup: dup}, true
		}
	}
	o.m.Problemf("%s: expected an object, got %s %s; left out", o.at(key), kindOf(raw), snippet(raw))
	return Object{}, false
}

// Person takes uuid, name and email.
func (o *Object) Person() Person {
	var p Person
	p.ID, _ = o.Str("uuid")
	p.Name, _ = o.Str("name")
	p.Email, _ = o.Str("email")
	return p
}

// CopyStrings copies each present key as a string to onepassword.<dst>.<key>
// (dst "" = onepassword.<key>).
func (o *Object) CopyStrings(dst string, keys ...string) {
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
func (o *Object) Rest(dst string) {
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
				if f := &o.kv[i]; !f.taken {
					f.taken = true
					o.m.Problemf("%s: unknown field left out (onepassword.%s is not an object)", o.at(o.m.key(f)), dst)
				}
			}
			return
		}
	}
	o.m.putUnknown(target, o.kv, o.path, dst, 0)
}

// The path of the unknown value being written, both in the item (api, for
// messages) and under onepassword (op), is a stack of segments in
// Mapping.path, joined only when needed: for a message, or to look up the
// schema (without allocating).
type segment struct {
	api, op string // this level's key (the whole prefix at the bottom)
}

func (m *Mapping) apiPath() string {
	s := m.path[0].api
	for _, sg := range m.path[1:] {
		s = joinPath(s, sg.api)
	}
	return s
}

func (m *Mapping) opPath() string {
	s := m.path[0].op
	for _, sg := range m.path[1:] {
		s = joinPath(s, sg.op)
	}
	return s
}

// pathType is fieldType(m.opPath()).
func (m *Mapping) pathType() string {
	var buf [128]byte
	b := append(buf[:0], m.path[0].op...)
	for _, sg := range m.path[1:] {
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, sg.op...)
	}
	return fieldType(string(b)) // no copy for a map lookup
}

// putUnknown writes the untaken members to target (onepassword.<opPath>),
// in document order. The last of duplicate keys wins; a key renamed onto a
// name already used is recorded instead.
func (m *Mapping) putUnknown(target mapstr.M, kv []field, apiPath, opPath string, depth int) {
	m.path = append(m.path[:0], segment{api: apiPath, op: opPath})
	m.putUnknownAt(target, kv, depth)
	m.path = m.path[:0]
}

func (m *Mapping) putUnknownAt(target mapstr.M, kv []field, depth int) {
	var from map[string]string // written name -> original key, for renamed keys
	nulls := false
	for i := range kv {
		f := &kv[i]
		if f.taken || m.laterDuplicate(kv, i) {
			continue
		}
		f.taken = true
		k := m.key(f)
		name := sanitizeKey(k)
		at := segment{api: k, op: name}
		if name != k {
			at.api = quote(k)
		}
		m.path = append(m.path, at)
		if name != k {
			m.Problemf("%s: unknown field renamed to %s", m.apiPath(), name)
			if from == nil {
				from = map[string]string{}
			}
		}
		_, exists := target[name]
		if orig, renamed := from[name]; exists && (!renamed || orig != k) {
			m.Problemf("%s: unknown field left out, it would overwrite onepassword.%s: %s", m.apiPath(), m.opPath(), snippet(m.value(f)))
		} else {
			if from != nil {
				from[name] = k
			}
			if v, ok := m.unknownValue(f, m.value(f), depth); ok {
				target[name] = v
				nulls = nulls || v == nil
			}
		}
		m.path = m.path[:len(m.path)-1]
	}
	if nulls {
		// A null holds its name against a renamed duplicate above, but is
		// not published: libbeat's event normalization, which the beat
		// skips, drops null members of objects.
		for k, v := range target {
			if v == nil {
				delete(target, k)
			}
		}
	}
}

// laterDuplicate reports whether an untaken field after i has the same key,
// as written.
func (m *Mapping) laterDuplicate(kv []field, i int) bool {
	k := m.text[kv[i].koff:kv[i].kend]
	for j := i + 1; j < len(kv); j++ {
		if !kv[j].taken && m.text[kv[j].koff:kv[j].kend] == k {
			return true
		}
	}
	return false
}

// objectFields returns the fields of f, an object value: those the reader split,
// else it splits them now.
func (m *Mapping) objectFields(f *field) (kv []field, dup, ok bool) {
	if f.n >= 0 {
		a, b := int(f.sub), int(f.sub)+int(f.n)
		return m.rd.arena[a:b:b], f.dup, true
	}
	kv, err := m.rd.splitAt(m.value(f), int(f.voff))
	return kv, true, err == nil
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
// onepassword.<m.opPath()>; f is its field when it has one. Where an
// event type's fields.yml maps that name (see fieldType), the value must fit
// the mapping: an object or array goes into a keyword field as JSON text,
// anything else that does not fit is left out. ok is false when the value is
// left out.
func (m *Mapping) unknownValue(f *field, raw json.RawMessage, depth int) (v interface{}, ok bool) {
	if isNull(raw) {
		return nil, true
	}
	switch ft := m.pathType(); ft {
	case "":
	case "group":
		if raw[0] != '{' {
			m.Problemf("%s: unknown field left out, onepassword.%s is an object: %s", m.apiPath(), m.opPath(), snippet(raw))
			return nil, false
		}
	case "keyword", "text", "match_only_text", "wildcard", "constant_keyword":
		if raw[0] == '{' || raw[0] == '[' && !scalarArray(raw) {
			m.Problemf("%s: %s kept as JSON text in the keyword field onepassword.%s", m.apiPath(), kindOf(raw), m.opPath())
			return compactText(raw), true
		}
	case "long", "integer", "short", "byte":
		if isNumber(raw) {
			if n, ok := parseInt(m.rawText(raw)); ok {
				return n, true
			}
		}
		m.Problemf("%s: unknown field left out, onepassword.%s is an integer: %s", m.apiPath(), m.opPath(), snippet(raw))
		return nil, false
	case "date":
		s, _ := m.decode(raw, strEsc|strHigh)
		if t, err := parseTime(raw, s); err == nil {
			return formatTime(t, s), true
		}
		m.Problemf("%s: unknown field left out, onepassword.%s is a date: %s", m.apiPath(), m.opPath(), snippet(raw))
		return nil, false
	default:
		m.Problemf("%s: unknown field left out, onepassword.%s is mapped as %s: %s", m.apiPath(), m.opPath(), ft, snippet(raw))
		return nil, false
	}

	switch raw[0] {
	case 't':
		return true, true
	case 'f':
		return false, true
	case '"':
		flags := uint8(strEsc | strHigh)
		if f != nil {
			flags = f.flags
		}
		s, _ := m.decode(raw, flags)
		return s, true
	case '{':
		if depth >= maxUnknownNest {
			m.Problemf("%s: nested too deep, kept as JSON text", m.apiPath())
			return compactText(raw), true
		}
		var kv []field
		if f != nil {
			var ok bool
			if kv, _, ok = m.objectFields(f); !ok {
				return compactText(raw), true
			}
		} else {
			off, in := m.offset(raw)
			var err error
			if kv, err = m.rd.splitAt(raw, off); !in || err != nil {
				return compactText(raw), true
			}
		}
		out := make(mapstr.M, len(kv))
		m.putUnknownAt(out, kv, depth+1)
		return out, true
	case '[':
		start := len(m.elems)
		elems, err := appendElems(m.elems, raw)
		if err != nil {
			return compactText(raw), true
		}
		m.elems = elems
		// Elasticsearch needs the elements of an array to share one type.
		var kind byte
		for _, e := range elems[start:] {
			k := kindByte(e)
			if k == 'n' {
				continue
			}
			if k == '[' || (kind != 0 && k != kind) || (k == '{' && depth >= maxUnknownNest) {
				m.Problemf("%s: array of mixed or nested values, kept as JSON text", m.apiPath())
				m.elems = m.elems[:start]
				return compactText(raw), true
			}
			kind = k
		}
		out := make([]interface{}, 0, len(elems)-start)
		for _, e := range elems[start:] {
			if v, ok := m.unknownValue(nil, e, depth+1); ok {
				out = append(out, v)
			}
		}
		m.elems = m.elems[:start]
		return out, true
	default:
		return m.numberValue(raw), true
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
func (m *Mapping) numberValue(raw json.RawMessage) interface{} {
	s := m.rawText(raw)
	if isIntText(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
		return f
	}
	return s
}

// --- JSON helpers -----------------------------------------------------------

// isIntText reports whether a JSON number has neither a fraction nor an
// exponent.
func isIntText(s string) bool {
	return strings.IndexAny(s, ".eE") < 0
}

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
	return unquote(raw)
}

// decode decodes raw, a JSON string of the item with the reader's flags
// (strEsc|strHigh when unknown). A string that needs no decoding is a
// substring of m.text: no copy.
func (m *Mapping) decode(raw json.RawMessage, flags uint8) (string, bool) {
	n := len(raw)
	if n < 2 || raw[0] != '"' {
		return "", false
	}
	off, ok := m.offset(raw)
	if !ok {
		return decodeString(raw)
	}
	s := m.text[off+1 : off+n-1]
	if flags&strEsc != 0 && strings.IndexByte(s, '\\') >= 0 ||
		flags&strHigh != 0 && !utf8.ValidString(s) {
		return unquote(raw)
	}
	return s, true
}

// offset returns where raw is in the item, when it is a part of it.
func (m *Mapping) offset(raw []byte) (int, bool) {
	off := cap(m.raw) - cap(raw)
	if len(raw) == 0 || off < 0 || off+len(raw) > len(m.raw) || len(m.text) != len(m.raw) || &m.raw[off] != &raw[0] {
		return 0, false
	}
	return off, true
}

// rawText is raw as a string: a substring of m.text when raw is a part of
// the item.
func (m *Mapping) rawText(raw []byte) string {
	if off, ok := m.offset(raw); ok {
		return m.text[off : off+len(raw)]
	}
	return string(raw)
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
