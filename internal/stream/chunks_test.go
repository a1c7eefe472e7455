package stream

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/internal/state"
)

func TestMapChunks(t *testing.T) {
	for _, tt := range []struct {
		items int
		want  []int // chunk sizes handed to publish
	}{
		{0, nil},
		{1, []int{1}},
		{publishChunk, []int{publishChunk}},
		{publishChunk + 1, []int{publishChunk, 1}},
		{1000, slices.Repeat([]int{publishChunk}, 1000/publishChunk)},
		{2*publishChunk + 50, []int{publishChunk, publishChunk, 50}},
	} {
		t.Run(fmt.Sprint(tt.items), func(t *testing.T) {
			uuids := make([]string, tt.items)
			for i := range uuids {
				uuids[i] = fmt.Sprintf("u%04d", i)
			}
			if tt.items > 0 {
				uuids[tt.items/2] = "" // an item that is not an object is still published, in place
			}
			pg := page("c", false, uuids...)
			if tt.items > 0 {
				pg.Items[tt.items/2] = []byte(`[not an object`)
			}
			w := New(Config{Key: "item_usages", Type: testType})
			var sizes []int
			var ids []string
			lasts := 0
			w.mapChunks(pg, time.Unix(1, 0), func(events []beat.Event, last bool) {
				sizes = append(sizes, len(events))
				for _, ev := range events {
					ids = append(ids, ev.Meta["_id"].(string))
				}
				if last {
					lasts++
				}
			})
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("chunks %v, want %v", sizes, tt.want)
			}
			if wantLasts := min(tt.items, 1); lasts != wantLasts {
				t.Errorf("%d chunks marked last, want %d", lasts, wantLasts)
			}
			if len(ids) != tt.items {
				t.Fatalf("%d events published, want %d", len(ids), tt.items)
			}
			for i, id := range ids {
				if i != tt.items/2 && id != "itemusages-"+uuids[i] {
					t.Fatalf("event %d is %s, want the item's, in order", i, id)
				}
			}
		})
	}
}

// A page published in chunks becomes committable only once the events of
// all its chunks are acknowledged.
func TestBackfillPageInChunksCommitsAfterItsLastChunk(t *testing.T) {
	w := New(Config{Key: "item_usages", Type: testType})
	p := newBackfillProgress(w, &backfillPlan{slices: []state.Slice{{Start: time.Unix(0, 0), End: time.Unix(100, 0)}}})
	ts := time.Unix(50, 0)
	p.sent(publishChunk)
	p.sent(publishChunk)
	p.published(pagePosition{slice: 0, cursor: "c1", lastEventTime: ts}, 50)
	ack := func(n int) { p.onACK(n, make([]interface{}, n)) }

	ack(2*publishChunk + 49)
	if got := p.slices[0].Cursor; got != "" {
		t.Fatalf("cursor %q committable with the page's last event unacknowledged", got)
	}
	ack(1)
	if got := p.slices[0].Cursor; got != "c1" {
		t.Fatalf("cursor %q after every chunk was acknowledged, want c1", got)
	}
	if n := p.outstanding(); n != 0 {
		t.Fatalf("%d events outstanding", n)
	}
}
