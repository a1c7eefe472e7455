package main

import (
	"strings"
	"testing"

	"github.com/elastic/beats/v7/libbeat/mapping"
)

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[string]string // path -> type in the merged fields
		wantErr string
	}{
		{
			name: "group in several keys merges into the first, with its settings",
			in: `
- key: beat
  fields:
    - name: op
      type: group
      dynamic: false
      fields: []
- key: a
  fields:
    - name: op
      type: group
      fields:
        - name: uuid
          type: keyword
          description: a's words
        - name: aux_id
          type: long
- key: b
  fields:
    - name: op
      type: group
      fields:
        - name: uuid
          type: keyword
          description: b's words
        - name: client
          type: group
          fields:
            - name: app_name
              type: keyword
`,
			want: map[string]string{"op": "group", "op.uuid": "keyword", "op.aux_id": "long", "op.client": "group", "op.client.app_name": "keyword"},
		},
		{
			name: "overwrite replaces libbeat's definition",
			in: `
- key: ecs
  fields:
    - name: os
      type: group
      fields:
        - name: name
          type: keyword
        - name: family
          type: keyword
- key: beat
  fields:
    - name: os
      type: group
      fields:
        - name: name
          type: alias
          path: host.os.name
          overwrite: true
    - name: host.os.name
      type: keyword
`,
			want: map[string]string{"os.name": "alias", "os.family": "keyword"},
		},
		{
			name: "dotted names become groups, merged with the groups of that name",
			in: `
- key: ecs
  fields:
    - name: host
      type: group
      fields:
        - name: os.name
          type: keyword
        - name: os.family
          type: keyword
- key: host
  fields:
    - name: host
      type: group
      fields:
        - name: os
          type: group
          description: libbeat's host fields
          fields:
            - name: build
              type: keyword
            - name: name
              type: keyword
`,
			want: map[string]string{"host.os": "group", "host.os.name": "keyword", "host.os.family": "keyword", "host.os.build": "keyword"},
		},
		{
			name: "fields inside an object keep their dotted names",
			in: `
- key: ecs
  fields:
    - name: dns
      type: group
      fields:
        - name: answers
          type: object
        - name: answers.class
          type: keyword
`,
			want: map[string]string{"dns.answers": "object", "dns.answers.class": "keyword"},
		},
		{
			name: "a conflicting definition is an error",
			in: `
- key: a
  fields:
    - name: op
      type: group
      fields:
        - name: aux_id
          type: long
- key: b
  fields:
    - name: op
      type: group
      fields:
        - name: aux_id
          type: keyword
`,
			wantErr: "op.aux_id is defined differently in keys a and b",
		},
		{
			name: "conflicting group settings are an error",
			in: `
- key: a
  fields:
    - name: op
      type: group
      dynamic: false
- key: b
  fields:
    - name: op
      type: group
      dynamic: true
`,
			wantErr: "group op sets dynamic differently in keys a and b",
		},
		{
			name: "a group and a field of the same name are an error",
			in: `
- key: a
  fields:
    - name: op
      type: keyword
- key: b
  fields:
    - name: op
      type: group
      fields:
        - name: x
          type: keyword
`,
			wantErr: "op is a group in one definition and a field in the other",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Merge([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fields, err := mapping.LoadFields(out)
			if err != nil {
				t.Fatalf("merged fields do not load: %v\n%s", err, out)
			}
			got := map[string]string{}
			count := map[string]int{}
			var walk func(fs mapping.Fields, prefix string)
			walk = func(fs mapping.Fields, prefix string) {
				for _, f := range fs {
					p := prefix + f.Name
					count[p]++
					got[p] = f.Type
					walk(f.Fields, p+".")
				}
			}
			walk(fields, "")
			for p, n := range count {
				if n > 1 {
					t.Errorf("%s defined %d times:\n%s", p, n, out)
				}
			}
			for p, typ := range tc.want {
				if got[p] != typ {
					t.Errorf("%s: type %q, want %q\n%s", p, got[p], typ, out)
				}
			}
		})
	}
}

// TestMergeKeepsDynamic: the group's dynamic setting from the beat's key
// survives the module keys' definitions of the same group.
func TestMergeKeepsDynamic(t *testing.T) {
	out, err := Merge([]byte(`
- key: beat
  fields:
    - name: op
      type: group
      dynamic: false
      fields: []
- key: mod
  fields:
    - name: op
      type: group
      fields:
        - name: uuid
          type: keyword
`))
	if err != nil {
		t.Fatal(err)
	}
	fields, err := mapping.LoadFields(out)
	if err != nil {
		t.Fatal(err)
	}
	var op *mapping.Field
	for i := range fields {
		if fields[i].Name == "op" {
			if op != nil {
				t.Fatalf("op defined twice:\n%s", out)
			}
			op = &fields[i]
		}
	}
	if op == nil || op.Dynamic.Value != false || len(op.Fields) != 1 {
		t.Fatalf("op = %+v, want dynamic false with uuid\n%s", op, out)
	}
}
