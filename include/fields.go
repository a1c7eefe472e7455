// Package include embeds the beat's fields.yml (libbeat's ECS and common
// fields plus every module's and the beat's own) and registers it, so that
// `export template` and `setup --index-management` map each field with its
// type. fields.yml is generated: run `go generate ./include` (or mage fields)
// after changing any _meta/fields.yml. It is libbeat's global_fields output
// passed through internal/fieldsmerge, which defines every field once (the
// index-pattern generator of setup --dashboards refuses duplicates).
package include

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/elastic/beats/v7/libbeat/asset"
)

//go:generate sh -c "go run github.com/elastic/beats/v7/libbeat/scripts/cmd/global_fields -es_beats_path \"$(go list -m -f '{{.Dir}}' github.com/elastic/beats/v7)\" -beat_path .. -out fields.yml ../module && go run ./internal/fieldsmerge fields.yml"

//go:embed fields.yml
var fieldsYML string

// BeatName must equal the beat's name, or the template silently has no
// mappings (libbeat looks the asset up by that name).
const BeatName = "eventsapibeat"

// FieldsYML returns the embedded fields.yml.
func FieldsYML() string { return fieldsYML }

// registered guards libbeat's global asset registry, which appends on every
// call: a beat created twice in one process (tests) must not double fields.
var registered sync.Once

// Init registers the fields asset; libbeat calls it before reading fields.
func Init() {
	registered.Do(func() {
		if err := asset.SetFields(BeatName, "fields.yml", asset.BeatFieldsPri, encodedFields); err != nil {
			panic(fmt.Errorf("registering fields.yml: %w", err))
		}
	})
}

func encodedFields() string {
	enc, err := asset.EncodeData(fieldsYML)
	if err != nil {
		panic(fmt.Errorf("encoding fields.yml: %w", err))
	}
	return enc
}
