package beater_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	lj "github.com/elastic/go-lumber/lj"
	"github.com/elastic/go-lumber/server"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// logstashField resolves a Logstash field reference such as
// "[@metadata][event_type]" in an event as the beats input decodes it.
func logstashField(event map[string]any, ref string) any {
	var cur any = event
	for _, part := range strings.Split(strings.Trim(ref, "[]"), "][") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// TestLogstashOutputBackpressure runs the beat into a Lumberjack v2 server,
// the protocol of Logstash's beats input, that acknowledges slowly: it holds
// every batch until the beat's memory queue is full (or everything is
// published). The full queue stops the streams, so the API is read at most
// a few pages ahead of what the queue holds; no cursor is written before the
// first ACK; every event arrives exactly once, with the @metadata fields a
// Logstash pipeline routes on; the cursors end at the end of the data.
func TestLogstashOutputBackpressure(t *testing.T) {
	counts := map[string]int{"itemusages": 6000, "signinattempts": 4000}
	types := []string{"itemusages", "signinattempts"}
	a := newAccount(t, 0, simulator.Config{Events: counts})
	stateDir := t.TempDir()
	section := onlyStreams(a.beatConfig(stateDir, nil), types...)
	keys := streamKeys(types)
	total := totalEvents(a, types)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewWithListener(l, server.V2(true))
	if err != nil {
		t.Fatal(err)
	}
	closeServer := sync.OnceFunc(func() { srv.Close() })
	defer closeServer()
	r := startBeat(t, section, "logstash", map[string]any{"hosts": []string{l.Addr().String()}, "bulk_max_size": 400})
	got := newReceived()
	audit := auditCommits(t, a, stateDir, types, got, nil)

	published := func() (sum int64, per map[string]int64) {
		per = map[string]int64{}
		for name, key := range keys {
			per[name] = r.metric(key, "events.published")
			sum += per[name]
		}
		return sum, per
	}
	queueFull := func() bool {
		capacity := r.libbeatMetric("pipeline.queue.max_events")
		return capacity > 0 && r.libbeatMetric("pipeline.queue.filled.events") >= capacity
	}

	batches, fullQueues := 0, 0
	deadline := time.After(90 * time.Second)
	for got.distinct() < total {
		var b *lj.Batch
		select {
		case b = <-srv.ReceiveChan():
		case <-deadline:
			t.Fatalf("after 90s %d of %d events arrived", got.distinct(), total)
		}
		batches++
		for _, e := range b.Events {
			m, _ := e.(map[string]any)
			id, _ := logstashField(m, "[@metadata][_id]").(string)
			typ, _ := logstashField(m, "[@metadata][event_type]").(string)
			if _, ok := counts[typ]; !ok || !strings.HasPrefix(id, typ+"-") || logstashField(m, "[@metadata][beat]") != "eventsapibeat" {
				t.Fatalf("event %q: [@metadata][event_type] = %q, [@metadata][beat] = %v", id, typ, logstashField(m, "[@metadata][beat]"))
			}
			got.add(id)
		}
		if batches == 1 {
			for name, key := range keys {
				if _, err := os.Stat(filepath.Join(stateDir, name+".state")); !os.IsNotExist(err) {
					t.Errorf("%s: a cursor was written before the first ACK (stat err %v)", name, err)
				}
				if n := r.metric(key, "events.acked"); n != 0 {
					t.Errorf("%s: events.acked = %d before the first ACK", name, n)
				}
			}
		}
		// A slow Logstash: acknowledge only once the beat can publish no more.
		waitFor(t, "a full queue or everything published", 30*time.Second, func() bool {
			sum, _ := published()
			return queueFull() || sum == int64(total)
		})
		if queueFull() {
			fullQueues++
			served := a.sim.Stats().ItemsServed
			_, per := published()
			for _, name := range types {
				// The blocked stream holds at most a few fetched pages
				// beyond what it handed to the queue.
				if ahead := int64(served[name]) - per[name]; ahead > outageMaxHeldPages*outagePageSize {
					t.Fatalf("%s: the API served %d events, %d more than published, with the queue full", name, served[name], ahead)
				}
			}
		}
		b.ACK()
	}
	waitCaughtUp(t, a, r, stateDir, types)
	closeServer()
	r.stop()
	audited := audit.finish()

	checkExactlyOnce(t, a, types, got.snapshot())
	if fullQueues < 2 {
		t.Errorf("the queue was full at %d of %d held batches; a slow output must stop the streams", fullQueues, batches)
	}
	t.Logf("%d events in %d batches; the queue was full at %d ACKs; %d cursor commits audited", total, batches, fullQueues, audited)
}
