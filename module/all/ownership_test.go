package all_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/beats/v7/libbeat/beat"

	"github.com/eventsapibeat/eventsapibeat/module"
	"github.com/eventsapibeat/eventsapibeat/module/all"
	"github.com/eventsapibeat/eventsapibeat/module/internal/mapcheck"
)

// fixtures returns the testdata items of a type.
func fixtures(t *testing.T, typ module.Type) [][]byte {
	files, err := filepath.Glob(filepath.Join("..", typ.Name, "testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no fixtures", typ.Name)
	}
	return out
}

// TestEventsOwnTheirData: a mapped event does not change when the caller
// overwrites the item's buffer, nor when more items are mapped (Map reuses
// its scratch from item to item), with and without preserve_original.
func TestEventsOwnTheirData(t *testing.T) {
	for _, typ := range all.Types() {
		items := fixtures(t, typ)
		for _, preserve := range []bool{false, true} {
			opts := module.MapOptions{Received: mapcheck.Received, PreserveOriginal: preserve}
			var evs []beat.Event
			var want [][]byte
			for _, item := range items {
				buf := append([]byte(nil), item...)
				ev, err := typ.Map(buf, opts)
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
				want = append(want, mapcheck.Golden(t, ev))
				for i := range buf {
					buf[i] = '#'
				}
			}
			for i := len(items) - 1; i >= 0; i-- {
				if _, err := typ.Map(items[i], opts); err != nil {
					t.Fatal(err)
				}
			}
			for i, ev := range evs {
				if got := mapcheck.Golden(t, ev); !bytes.Equal(got, want[i]) {
					t.Errorf("%s item %d changed after mapping:\n%s\nwant\n%s", typ.Name, i, got, want[i])
				}
			}
		}
	}
}

// TestConcurrentMap: mapping from several goroutines gives the documents
// of a sequential mapping (run with -race).
func TestConcurrentMap(t *testing.T) {
	type job struct {
		typ  module.Type
		item []byte
		want []byte
	}
	var jobs []job
	for _, typ := range all.Types() {
		for _, item := range fixtures(t, typ) {
			ev, _ := typ.Map(item, mapcheck.Opts)
			jobs = append(jobs, job{typ, item, mapcheck.Golden(t, ev)})
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				j := jobs[(g+n)%len(jobs)]
				ev, _ := j.typ.Map(j.item, mapcheck.Opts)
				if got := mapcheck.Golden(t, ev); !bytes.Equal(got, j.want) {
					errs <- fmt.Errorf("%s: concurrent mapping differs:\n%s", j.typ.Name, got)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
