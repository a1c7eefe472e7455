package beater_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// TestKafkaOutput runs the beat into kfake, an in-memory cluster speaking the
// Kafka protocol, with one topic per event type chosen by
// %{[@metadata][event_type]} and the document id as record key. The first
// produce request is held: no cursor is written until the cluster answers
// it. Every event is in its topic exactly once (each topic's end offset is
// its number of events), and the cursors end at the end of the data.
func TestKafkaOutput(t *testing.T) {
	types := []string{"signinattempts", "itemusages", "auditevents"}
	a := newAccount(t, 0, simulator.Config{Events: map[string]int{"signinattempts": 1200, "itemusages": 1800, "auditevents": 600}})
	stateDir := t.TempDir()
	section := a.beatConfig(stateDir, nil)

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, types...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	held, release := make(chan struct{}), make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // before cluster.Close: cleanups run last first
	var first sync.Once
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.DropControl()
		first.Do(func() {
			close(held)
			cluster.SleepControl(func() { <-release })
		})
		return nil, nil, false // the cluster handles the request
	})

	output := map[string]any{
		"hosts":         cluster.ListenAddrs(),
		"topic":         "%{[@metadata][event_type]}",
		"key":           "%{[@metadata][_id]}",
		"required_acks": -1,
		"bulk_max_size": 500,
	}
	r := startBeat(t, section, "kafka", output)

	// Consume every topic from the start while the beat runs.
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(cluster.ListenAddrs()...),
		kgo.ConsumeTopics(types...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := newReceived()
	var offsetsMu sync.Mutex
	consumed := map[string]int64{} // next offset to consume, per topic
	ctx, cancel := context.WithCancel(context.Background())
	var consuming sync.WaitGroup
	consuming.Add(1)
	go func() {
		defer consuming.Done()
		for ctx.Err() == nil {
			fetches := consumer.PollFetches(ctx)
			fetches.EachRecord(func(rec *kgo.Record) {
				var doc struct {
					Meta struct {
						ID        string `json:"_id"`
						EventType string `json:"event_type"`
						Beat      string `json:"beat"`
					} `json:"@metadata"`
				}
				if err := json.Unmarshal(rec.Value, &doc); err != nil {
					t.Errorf("record at %s/%d is not JSON: %v", rec.Topic, rec.Offset, err)
					return
				}
				if doc.Meta.EventType != rec.Topic || string(rec.Key) != doc.Meta.ID || doc.Meta.Beat != "eventsapibeat" {
					t.Errorf("record %s in topic %s with key %q, @metadata %+v", doc.Meta.ID, rec.Topic, rec.Key, doc.Meta)
				}
				got.add(doc.Meta.ID)
				offsetsMu.Lock()
				consumed[rec.Topic] = rec.Offset + 1
				offsetsMu.Unlock()
			})
		}
	}()
	stopConsuming := sync.OnceFunc(func() { cancel(); consuming.Wait() })
	defer stopConsuming()
	// The consumer lags behind the cluster: before reporting an event
	// missing, the audit waits until it consumed what the cluster holds now.
	catchUp := func() {
		for _, name := range types {
			end, err := endOffset(consumer, name)
			if err != nil {
				t.Error(err)
				return
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				offsetsMu.Lock()
				next := consumed[name]
				offsetsMu.Unlock()
				if next >= end || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	audit := auditCommits(t, a, stateDir, types, got, catchUp)

	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no produce request within 30s")
	}
	for name, key := range streamKeys(types) {
		if _, err := os.Stat(filepath.Join(stateDir, name+".state")); !os.IsNotExist(err) {
			t.Errorf("%s: a cursor was written before Kafka answered a produce request (stat err %v)", name, err)
		}
		if n := r.metric(key, "events.acked"); n != 0 {
			t.Errorf("%s: events.acked = %d before any produce response", name, n)
		}
	}
	releaseOnce()

	total := totalEvents(a, types)
	waitCaughtUp(t, a, r, stateDir, types)
	waitFor(t, "every record consumed", 30*time.Second, func() bool { return got.distinct() >= total })
	r.stop()
	audited := audit.finish()
	stopConsuming()

	checkExactlyOnce(t, a, types, got.snapshot())
	// Nothing more than one copy in the log either: each topic ends at its
	// number of events.
	for _, name := range types {
		end, err := endOffset(consumer, name)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(len(a.sim.Events(name))); end != want {
			t.Errorf("topic %s ends at offset %d, want %d (one record per event)", name, end, want)
		}
	}
	t.Logf("%d events, one record each; %d cursor commits audited", total, audited)
}

// endOffset asks the cluster for the end offset of partition 0 of topic.
func endOffset(cl *kgo.Client, topic string) (int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = 0
	rp.Timestamp = -1 // the end
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, fmt.Errorf("listing the end offset of %s: %w", topic, err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, fmt.Errorf("listing the end offset of %s: unexpected response %+v", topic, resp)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return 0, fmt.Errorf("listing the end offset of %s: %w", topic, err)
	}
	return p.Offset, nil
}
