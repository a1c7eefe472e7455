package beater_test

import (
	"io"
	"sync"
	"testing"
	"time"

	"github.com/elastic/beats/v7/libbeat/beat"
	conf "github.com/elastic/elastic-agent-libs/config"
	"github.com/elastic/elastic-agent-libs/logp"

	"github.com/eventsapibeat/eventsapibeat/beater"
	"github.com/eventsapibeat/eventsapibeat/internal/simulator"
)

// orderPipeline is a publisher pipeline that never acknowledges and records
// whether every client was closed before the pipeline itself.
type orderPipeline struct {
	mu            sync.Mutex
	open          int
	connected     chan struct{}
	openAtClose   int
	closedAlready bool
}

func (p *orderPipeline) Connect() (beat.Client, error) { return p.ConnectWith(beat.ClientConfig{}) }
func (p *orderPipeline) ConnectWith(beat.ClientConfig) (beat.Client, error) {
	p.mu.Lock()
	p.open++
	p.mu.Unlock()
	p.connected <- struct{}{}
	return &orderClient{p: p}, nil
}

func (p *orderPipeline) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.openAtClose, p.closedAlready = p.open, true
	return nil
}

type orderClient struct {
	p    *orderPipeline
	once sync.Once
}

func (c *orderClient) Publish(beat.Event)      {}
func (c *orderClient) PublishAll([]beat.Event) {}
func (c *orderClient) Close() error {
	c.once.Do(func() {
		c.p.mu.Lock()
		c.p.open--
		c.p.mu.Unlock()
	})
	return nil
}

// TestPipelineClosesAfterStreamClients: libbeat closes the publisher
// pipeline before it calls Stop, and a closing pipeline reports the events
// it drops as acknowledged to clients still connected. The beat must close
// every stream's client before the pipeline closes.
func TestPipelineClosesAfterStreamClients(t *testing.T) {
	a := newAccount(t, 10, simulator.Config{})
	pipe := &orderPipeline{connected: make(chan struct{}, 3)}
	b := &beat.Beat{Info: beat.Info{Beat: beater.Name, Logger: logp.NewNopLogger()}, Publisher: pipe, Monitoring: beat.NewMonitoring()}
	bt, err := beater.New(b, conf.MustNewConfigFrom(a.beatConfig(t.TempDir(), map[string]any{"shutdown_timeout": "50ms"})))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bt.Run(b) }()
	for range 3 {
		<-pipe.connected
	}
	closer, ok := b.Publisher.(io.Closer)
	if !ok {
		t.Fatal("the beat's publisher cannot be closed")
	}
	closer.Close() // as libbeat's stopBeat does, before Stop
	bt.Stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Stop")
	}
	if !pipe.closedAlready || pipe.openAtClose != 0 {
		t.Fatalf("pipeline closed=%v with %d stream client(s) still open", pipe.closedAlready, pipe.openAtClose)
	}
}
