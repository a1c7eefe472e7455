package module_test

import (
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/all"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
)

// pageSize is the API's largest page (limit 1000).
const pageSize = 1000

// BenchmarkDecodePage maps a page of 1,000 items made of the types'
// testdata fixtures (one in twenty a "quirks" item, see mapcheck.Page):
// one page per type and a page mixing the three. "map" maps the page's
// items; "decode+map" first decodes the response body as the API client
// does (encoding/json into []json.RawMessage). ns/event, B/event and
// allocs/event are per item.
func BenchmarkDecodePage(b *testing.B) {
	types := all.Types()
	pages := []struct {
		name  string
		types []module.Type
	}{{"mixed", types}}
	for _, t := range types {
		pages = append(pages, struct {
			name  string
			types []module.Type
		}{t.Name, []module.Type{t}})
	}
	for _, p := range pages {
		items := mapcheck.Page(b, ".", pageSize, p.types...)
		body := mapcheck.PageJSON(items)
		b.Run(p.name+"/map", func(b *testing.B) {
			raw := make([][]byte, len(items))
			for i, it := range items {
				raw[i] = it.Item
			}
			benchPage(b, items, func() [][]byte { return raw })
		})
		b.Run(p.name+"/decode+map", func(b *testing.B) {
			benchPage(b, items, func() [][]byte {
				var env struct {
					Cursor  *string           `json:"cursor"`
					HasMore bool              `json:"has_more"`
					Items   []json.RawMessage `json:"items"`
				}
				if err := json.Unmarshal(body, &env); err != nil || len(env.Items) != len(items) {
					b.Fatalf("page: %v", err)
				}
				raw := make([][]byte, len(env.Items))
				for i, it := range env.Items {
					raw[i] = it
				}
				return raw
			})
		})
	}
}

func benchPage(b *testing.B, items []mapcheck.PageItem, decode func() [][]byte) {
	events := make([]beat.Event, len(items))
	opts := module.MapOptions{Received: time.Now()}
	var before, after runtime.MemStats
	b.ReportAllocs()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, item := range decode() {
			ev, _ := items[j].Type.Map(item, opts)
			events[j] = ev
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N) * float64(len(items))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/event")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/event")
}
