package mapcheck

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
)

// Sample is one API item found in conformance/api-samples.
type Sample struct {
	// Source is file#index.
	Source string
	// Type is the event type's Name (signinattempts, itemusages, auditevents).
	Type string
	Item json.RawMessage
}

// LoadAPISamples reads every item of conformance/api-samples: official v2
// examples, demisto v2 audit events, Elastic's pipeline test events and mock
// API exchanges, Sumo Logic's and Panther's samples. ok is false when the
// folder is missing.
func LoadAPISamples() (samples []Sample, ok bool, err error) {
	dir, ok := Shared("conformance/api-samples")
	if !ok {
		return nil, false, nil
	}
	add := func(file string, i int, typ string, item json.RawMessage) {
		if typ == "" {
			typ = Classify(item)
		}
		samples = append(samples, Sample{Source: fmt.Sprintf("%s#%d", file, i), Type: typ, Item: item})
	}
	type page struct {
		Items []json.RawMessage `json:"items"`
	}

	for _, typ := range []string{"signinattempts", "itemusages", "auditevents"} {
		f := "official-1password-dev-v2-" + typ + "-response.json"
		var p page
		if err := readJSON(filepath.Join(dir, f), &p); err != nil {
			return nil, true, err
		}
		for i, it := range p.Items {
			add(f, i, typ, it)
		}
	}
	demisto, _ := filepath.Glob(filepath.Join(dir, "demisto-content-v2-auditevents_response_*.json"))
	for _, path := range demisto {
		var p page
		if err := readJSON(path, &p); err != nil {
			return nil, true, err
		}
		for i, it := range p.Items {
			add(filepath.Base(path), i, "auditevents", it)
		}
	}

	f := "elastic-integrations-1password-pipeline-test-events.json"
	var byStream map[string][]json.RawMessage
	if err := readJSON(filepath.Join(dir, f), &byStream); err != nil {
		return nil, true, err
	}
	for stream, items := range byStream {
		for i, it := range items {
			add(f+":"+stream, i, strings.ReplaceAll(stream, "_", ""), it)
		}
	}

	f = "elastic-integrations-1password-mock-api-exchanges.json"
	var exchanges []struct {
		Path         string `json:"path"`
		ResponseBody page   `json:"response_body"`
	}
	if err := readJSON(filepath.Join(dir, f), &exchanges); err != nil {
		return nil, true, err
	}
	for j, x := range exchanges {
		typ := x.Path[strings.LastIndexByte(x.Path, '/')+1:]
		for i, it := range x.ResponseBody.Items {
			add(fmt.Sprintf("%s[%d]", f, j), i, typ, it)
		}
	}

	for _, f := range []string{"sumologic-docs-1password-sample-events.json", "panther-analysis-test-logs.json"} {
		var items []json.RawMessage
		if err := readJSON(filepath.Join(dir, f), &items); err != nil {
			return nil, true, err
		}
		for i, it := range items {
			add(f, i, "", it)
		}
	}
	return samples, true, nil
}

// Classify guesses the event type of an item from its keys.
func Classify(item []byte) string {
	var kv map[string]json.RawMessage
	_ = json.Unmarshal(item, &kv)
	switch {
	case kv["target_user"] != nil || kv["category"] != nil:
		return "signinattempts"
	case kv["used_version"] != nil || kv["vault_uuid"] != nil || kv["item_uuid"] != nil:
		return "itemusages"
	case kv["actor_uuid"] != nil || kv["object_type"] != nil || kv["actor_details"] != nil:
		return "auditevents"
	}
	return ""
}
