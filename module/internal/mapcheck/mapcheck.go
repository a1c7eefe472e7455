// Package mapcheck holds the test helpers shared by the event type packages:
// loading field definitions (libbeat's ECS fields and the types'
// fields.yml), flattening documents, checking that a document is one
// Elasticsearch would index with the beat's template, and comparing with
// Elastic's conformance vectors. It is imported by tests only.
package mapcheck

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	"github.com/elastic/beats/v7/libbeat/common"
	"github.com/elastic/beats/v7/libbeat/mapping"
	"github.com/elastic/elastic-agent-libs/logp"
	"github.com/elastic/elastic-agent-libs/mapstr"
)

// Shared returns the path of rel under the repository's testdata folder
// (third-party conformance vectors, see testdata/conformance), relative to a
// test's package directory module/<pkg>, and whether it exists.
func Shared(rel string) (string, bool) {
	p := filepath.Join("..", "..", "testdata", filepath.FromSlash(rel))
	_, err := os.Stat(p)
	return p, err == nil
}

// --- field definitions ------------------------------------------------------

// Defs maps every defined field (dotted path) to its type; groups are "group".
type Defs map[string]string

var (
	beatsDirOnce sync.Once
	beatsDir     string
	beatsDirErr  error
)

// BeatsDir is the directory of github.com/elastic/beats/v7 in the module cache.
func BeatsDir() (string, error) {
	beatsDirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/elastic/beats/v7").Output()
		if err != nil {
			beatsDirErr = fmt.Errorf("go list -m github.com/elastic/beats/v7: %w", err)
			return
		}
		beatsDir = strings.TrimSpace(string(out))
	})
	return beatsDir, beatsDirErr
}

// ECSFieldsPath is libbeat's _meta/fields.ecs.yml in the module cache.
func ECSFieldsPath() (string, error) {
	dir, err := BeatsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "libbeat", "_meta", "fields.ecs.yml"), nil
}

// LoadDefs loads fields.yml files into one Defs. Later files override
// earlier ones, as in the template libbeat builds.
func LoadDefs(paths ...string) (Defs, error) {
	d := Defs{}
	for _, p := range paths {
		fields, err := mapping.LoadFieldsYaml(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		d.add(fields, "")
	}
	return d, nil
}

func (d Defs) add(fields mapping.Fields, prefix string) {
	for _, f := range fields {
		path := f.Name
		if prefix != "" {
			path = prefix + "." + f.Name
		}
		parts := strings.Split(path, ".")
		for i := 1; i < len(parts); i++ {
			if _, ok := d[strings.Join(parts[:i], ".")]; !ok {
				d[strings.Join(parts[:i], ".")] = "group"
			}
		}
		if f.Type == "group" || len(f.Fields) > 0 {
			d[path] = "group"
			d.add(f.Fields, path)
			continue
		}
		typ := f.Type
		if typ == "" {
			typ = "keyword"
		}
		d[path] = typ
	}
}

// Lookup returns the type that maps key: its own definition, or that of an
// ancestor whose type takes sub-keys (geo_point {lat, lon}, object,
// flattened). ok is false when nothing defines key.
func (d Defs) Lookup(key string) (typ string, ok bool) {
	if t, ok := d[key]; ok {
		return t, true
	}
	for i := strings.LastIndexByte(key, '.'); i > 0; i = strings.LastIndexByte(key[:i], '.') {
		switch t := d[key[:i]]; t {
		case "geo_point", "object", "flattened":
			return t, true
		}
	}
	return "", false
}

var (
	stdDefsOnce sync.Once
	stdDefs     Defs
	stdDefsErr  error
)

// TypeFieldsFiles lists the fields.yml of every event type (module/*/_meta).
func TypeFieldsFiles() ([]string, error) {
	return filepath.Glob(filepath.Join("..", "*", "_meta", "fields.yml"))
}

// StandardDefs are the definitions of the beat's template: libbeat's ECS
// fields, the beat's _meta/fields.yml and every type's fields.yml.
func StandardDefs() (Defs, error) {
	stdDefsOnce.Do(func() {
		ecs, err := ECSFieldsPath()
		if err != nil {
			stdDefsErr = err
			return
		}
		files, err := TypeFieldsFiles()
		if err != nil || len(files) == 0 {
			stdDefsErr = fmt.Errorf("no module/*/_meta/fields.yml found (%v)", err)
			return
		}
		paths := append([]string{ecs, filepath.Join("..", "..", "_meta", "fields.yml")}, files...)
		stdDefs, stdDefsErr = LoadDefs(paths...)
	})
	return stdDefs, stdDefsErr
}

// --- documents --------------------------------------------------------------

// Doc is the document as Elasticsearch receives it: the fields, JSON-encoded
// and decoded again, with @timestamp.
func Doc(ev beat.Event) (map[string]interface{}, error) {
	b, err := json.Marshal(ev.Fields)
	if err != nil {
		return nil, err
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		doc = map[string]interface{}{}
	}
	doc["@timestamp"] = ev.Timestamp.UTC().Format(time.RFC3339Nano)
	return doc, nil
}

// Flatten turns nested objects into dotted keys. Arrays are leaves.
func Flatten(doc map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	flatten(out, "", doc)
	return out
}

func flatten(out map[string]interface{}, prefix string, v interface{}) {
	m, ok := v.(map[string]interface{})
	if !ok {
		out[prefix] = v
		return
	}
	if len(m) == 0 && prefix != "" {
		out[prefix] = m
		return
	}
	for k, val := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		flatten(out, key, val)
	}
}

// Keys returns the sorted keys of a flattened document.
func Keys(flat map[string]interface{}) []string {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// --- invariants -------------------------------------------------------------

// Check returns what is wrong with a mapped event: missing metadata, a zero
// @timestamp, an internal mapping error, or a value that the field's mapping
// in defs would reject (ip, date, long, geo_point, keyword given an object,
// object given a scalar). Undefined fields are not reported (see Undefined).
func Check(ev beat.Event, typeName string, defs Defs) []string {
	var errs []string
	add := func(format string, args ...interface{}) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if id, _ := ev.Meta["_id"].(string); id == "" || len(id) > 512 {
		add("@metadata._id is %q", id)
	}
	if et, _ := ev.Meta["event_type"].(string); et != typeName {
		add("@metadata.event_type is %q, want %q", et, typeName)
	}
	if ev.Timestamp.IsZero() {
		add("@timestamp is zero")
	}
	// The beat publishes with libbeat's event normalization turned off, so
	// the fields must already be what it would make of them.
	if norm := common.NewGenericEventConverter(false, logp.NewNopLogger()).Convert(ev.Fields); !sameGeneric(norm, ev.Fields) {
		add("fields change under libbeat's event normalization: %s", firstDifference(norm, ev.Fields))
	}
	doc, err := Doc(ev)
	if err != nil {
		add("fields do not encode as JSON: %v", err)
		return errs
	}
	if msgs, ok := mapstr.M(ev.Fields).GetValue("error.message"); ok == nil {
		if strings.Contains(fmt.Sprint(msgs), "internal mapping error") {
			add("error.message reports an internal error: %v", msgs)
		}
	}
	flat := Flatten(doc)
	for _, key := range Keys(flat) {
		if key == "@timestamp" {
			continue
		}
		typ, ok := defs.Lookup(key)
		if !ok {
			// An undefined key must not sit below a defined leaf.
			for i := strings.LastIndexByte(key, '.'); i > 0; i = strings.LastIndexByte(key[:i], '.') {
				if t, ok := defs[key[:i]]; ok && t != "group" {
					add("%s: sub-field of %s field %s", key, t, key[:i])
					break
				}
			}
			continue
		}
		for _, v := range values(flat[key]) {
			if msg := checkValue(key, typ, v); msg != "" {
				add("%s", msg)
			}
		}
	}
	return errs
}

func values(v interface{}) []interface{} {
	if a, ok := v.([]interface{}); ok {
		var out []interface{}
		for _, e := range a {
			out = append(out, values(e)...)
		}
		return out
	}
	return []interface{}{v}
}

func checkValue(key, typ string, v interface{}) string {
	if v == nil {
		return ""
	}
	switch typ {
	case "group":
		if m, ok := v.(map[string]interface{}); !ok || len(m) != 0 {
			return fmt.Sprintf("%s: object field holds %T %v", key, v, v)
		}
	case "keyword", "text", "match_only_text", "wildcard", "constant_keyword":
		switch v.(type) {
		case string, float64, bool:
		default:
			return fmt.Sprintf("%s: %s field holds %T %v", key, typ, v, v)
		}
		if s, ok := v.(string); ok && typ == "keyword" && key != "event.original" && len(s) > 32766 {
			return fmt.Sprintf("%s: keyword longer than Lucene's term limit", key)
		}
	case "ip":
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("%s: ip field holds %T %v", key, v, v)
		}
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			return fmt.Sprintf("%s: %q is not an IP address", key, s)
		}
	case "date":
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("%s: date field holds %T %v", key, v, v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("%s: %q is not a date: %v", key, s, err)
		}
	case "long", "integer", "short", "byte":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Sprintf("%s: %s field holds %T %v", key, typ, v, v)
		}
	case "float", "double", "scaled_float", "half_float":
		if _, ok := v.(float64); !ok {
			return fmt.Sprintf("%s: %s field holds %T %v", key, typ, v, v)
		}
	case "geo_point":
		f, ok := v.(float64)
		if !ok {
			return fmt.Sprintf("%s: geo_point part holds %T %v", key, v, v)
		}
		switch {
		case strings.HasSuffix(key, ".lat") && (f < -90 || f > 90),
			strings.HasSuffix(key, ".lon") && (f < -180 || f > 180):
			return fmt.Sprintf("%s: %v out of range", key, f)
		case !strings.HasSuffix(key, ".lat") && !strings.HasSuffix(key, ".lon"):
			return fmt.Sprintf("%s: geo_point given as %T", key, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("%s: boolean field holds %T %v", key, v, v)
		}
	case "alias":
		return fmt.Sprintf("%s: the document writes an alias field", key)
	}
	return ""
}

// Undefined returns the keys of a mapped event that no definition in defs
// types, leaving out those under any of the allowed prefixes.
func Undefined(ev beat.Event, defs Defs, allowed ...string) ([]string, error) {
	doc, err := Doc(ev)
	if err != nil {
		return nil, err
	}
	var out []string
	flat := Flatten(doc)
next:
	for _, key := range Keys(flat) {
		if key == "@timestamp" {
			continue
		}
		if _, ok := defs.Lookup(key); ok {
			continue
		}
		for _, a := range allowed {
			if key == a || strings.HasPrefix(key, a+".") {
				continue next
			}
		}
		out = append(out, key)
	}
	return out, nil
}

// ErrorMessages returns error.message as a list.
func ErrorMessages(ev beat.Event) []string {
	v, err := ev.Fields.GetValue("error.message")
	if err != nil {
		return nil
	}
	switch m := v.(type) {
	case string:
		return []string{m}
	case []string:
		return m
	}
	return []string{fmt.Sprint(v)}
}

// sameGeneric reports whether a value published as b is what libbeat's
// event normalization made of it (a), taking an empty array for the nil one
// normalization writes (both are encoded as no value).
func sameGeneric(a, b interface{}) bool {
	switch va := a.(type) {
	case mapstr.M:
		vb, ok := b.(mapstr.M)
		if !ok || len(va) != len(vb) {
			return false
		}
		for k, x := range va {
			y, ok := vb[k]
			if !ok || !sameGeneric(x, y) {
				return false
			}
		}
		return true
	case []interface{}:
		vb, ok := b.([]interface{})
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if !sameGeneric(va[i], vb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// firstDifference names the first key whose value differs between a
// normalized document and the published one, with both values' Go types.
func firstDifference(norm, published mapstr.M) string {
	fa, fb := norm.Flatten(), published.Flatten()
	for _, k := range Keys(map[string]interface{}(fb)) {
		va, inA := fa[k]
		if vb := fb[k]; !inA || !sameGeneric(va, vb) {
			return fmt.Sprintf("%s: published as %T %v, normalized to %T %v (present: %v)", k, vb, vb, va, va, inA)
		}
	}
	for k := range fa {
		if _, ok := fb[k]; !ok {
			return k + " is added"
		}
	}
	return "types differ"
}
