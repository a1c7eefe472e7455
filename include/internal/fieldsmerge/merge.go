package main

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Merge reads a fields.yml as global_fields writes it (libbeat's fields, then
// the beat's own, then every module's), and returns it with every field path
// defined once, so that libbeat's index-pattern generator (setup
// --dashboards, export index-pattern) accepts it and the template maps each
// field exactly as written:
//
//   - a group defined again (onepassword in every module, os and geo by the
//     beat's aliases) is merged into its first definition: its fields move
//     there, and its settings (dynamic, enabled, ...) join the first
//     definition's, which must not set them differently;
//   - a field defined again with overwrite: true replaces the earlier
//     definition (the beat's aliases replace libbeat's root os.name, ...);
//   - a field defined again identically (apart from its description) is
//     dropped: every module documents the onepassword.* fields it writes;
//   - any other second definition is an error naming both places;
//   - a dotted name (ECS's os.name inside host) becomes nested groups, so
//     that libbeat resolves aliases to it (GetField walks groups) and the
//     checks above see one path.
func Merge(in []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(in, &doc); err != nil {
		return nil, fmt.Errorf("parsing fields.yml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("fields.yml is not a list of keys")
	}
	m := merger{seen: map[string]*definition{}}
	for _, key := range doc.Content[0].Content {
		name := scalar(key, "key")
		fields := value(key, "fields")
		if fields == nil {
			continue
		}
		if err := m.fields(fields, "", name); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("writing fields.yml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("writing fields.yml: %w", err)
	}
	return out.Bytes(), nil
}

// definition is the first definition of a field path.
type definition struct {
	node *yaml.Node // the field's mapping node
	key  string     // the fields.yml key (ecs, eventsapibeat, a module) it is in
}

type merger struct {
	seen map[string]*definition
}

// fields resolves the field definitions of a sequence under path, in place.
func (m *merger) fields(seq *yaml.Node, path, key string) error {
	if seq.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s (key %s): fields is not a list", orRoot(path), key)
	}
	items := seq.Content
	seq.Content = nil
	for _, f := range items {
		if err := m.add(seq, f, path, key); err != nil {
			return err
		}
	}
	return nil
}

// add places the field definition f, found under path in key, into seq (the
// fields of path's first definition): as a new field, merged into or
// replacing the first definition of its path, or dropped.
func (m *merger) add(seq, f *yaml.Node, path, key string) error {
	name := scalar(f, "name")
	if name == "" {
		seq.Content = append(seq.Content, f)
		return nil
	}
	// ECS names fields os.name inside host; libbeat's alias resolution
	// (GetField, for the index pattern) and the duplicate checks need the
	// field under a group os, so dotted names become nested groups.
	// Fields inside an object or nested field (dns.answers.class) keep
	// their dotted names: only groups hold fields.
	if head, rest, dotted := strings.Cut(name, "."); dotted && head != "" && rest != "" && !m.insideField(join(path, head)) {
		full := join(path, head)
		first, ok := m.seen[full]
		if !ok {
			g := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			g.Content = append(g.Content,
				str("name"), str(head), str("type"), str("group"),
				str("fields"), &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"})
			seq.Content = append(seq.Content, g)
			first = &definition{node: g, key: key}
			m.seen[full] = first
		}
		value(f, "name").Value = rest
		return m.add(groupFields(first.node), f, full, key)
	}
	full := join(path, name)
	first, dup := m.seen[full]
	switch {
	case !dup:
		m.seen[full] = &definition{node: f, key: key}
		seq.Content = append(seq.Content, f)
		if children := value(f, "fields"); children != nil {
			return m.fields(children, full, key)
		}
	case isGroup(f) && isGroup(first.node):
		if err := mergeGroupSettings(first.node, f, full, first.key, key); err != nil {
			return err
		}
		// Fields new to the group move into its first definition; the
		// others are resolved against theirs.
		if children := value(f, "fields"); children != nil {
			if children.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s (key %s): fields is not a list", full, key)
			}
			target := groupFields(first.node)
			for _, c := range children.Content {
				if err := m.add(target, c, full, key); err != nil {
					return err
				}
			}
		}
	case isGroup(f) != isGroup(first.node):
		return fmt.Errorf("%s is a group in one definition and a field in the other (keys %s and %s)", full, first.key, key)
	case scalar(f, "overwrite") == "true":
		*first.node = *f
		first.key = key
	case sameField(first.node, f):
		// Dropped: the first definition stands.
	default:
		return fmt.Errorf("%s is defined differently in keys %s and %s; make the definitions equal, or set overwrite: true on the one that should win", full, first.key, key)
	}
	return nil
}

// insideField reports whether path is defined as a field that is not a group.
func (m *merger) insideField(path string) bool {
	d, ok := m.seen[path]
	return ok && !isGroup(d.node)
}

// groupFields returns a group's fields sequence, creating it if needed, in
// block style (also where the definition had fields: []).
func groupFields(g *yaml.Node) *yaml.Node {
	seq := value(g, "fields")
	if seq == nil {
		seq = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		g.Content = append(g.Content, str("fields"), seq)
	}
	seq.Style = 0
	return seq
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// mergeGroupSettings copies the settings of a group's later definition into
// its first one.
func mergeGroupSettings(first, later *yaml.Node, path, firstKey, laterKey string) error {
	for i := 0; i+1 < len(later.Content); i += 2 {
		k, v := later.Content[i].Value, later.Content[i+1]
		switch k {
		case "name", "fields", "type":
			continue
		case "description", "title", "group":
			// Documentation: the first definition's stands; a group
			// created for a dotted name has none and takes the later one.
			if value(first, k) == nil {
				first.Content = append(first.Content, later.Content[i], v)
			}
			continue
		}
		if have := value(first, k); have != nil {
			if !equalNodes(have, v) {
				return fmt.Errorf("group %s sets %s differently in keys %s and %s", path, k, firstKey, laterKey)
			}
			continue
		}
		first.Content = append(first.Content, later.Content[i], v)
	}
	return nil
}

// sameField reports whether two field definitions are equal apart from
// their descriptions.
func sameField(a, b *yaml.Node) bool {
	return reflect.DeepEqual(settings(a), settings(b))
}

func settings(n *yaml.Node) map[string]any {
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return nil
	}
	delete(m, "description")
	return m
}

func equalNodes(a, b *yaml.Node) bool {
	var x, y any
	if a.Decode(&x) != nil || b.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func isGroup(f *yaml.Node) bool {
	t := scalar(f, "type")
	return t == "group" || (t == "" && value(f, "fields") != nil)
}

// value returns the value of a mapping node's key, or nil.
func value(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node, key string) string {
	if v := value(n, key); v != nil && v.Kind == yaml.ScalarNode {
		return strings.TrimSpace(v.Value)
	}
	return ""
}

func orRoot(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}
