package stream

import (
	"sync"
	"time"
)

// position is where a page leaves the stream: the cursor to continue from
// and the time of the newest event up to it. It rides in the Private field
// of the last event of its page, so libbeat hands it back in order once the
// output has acknowledged that event and, with it, every event before it.
type position struct {
	seq           uint64
	cursor        string
	apiVersion    string
	lastEventTime time.Time
}

// committer decides when a position may be persisted. It is fed from two
// sides: the worker (pages it published, including empty ones) and libbeat's
// ACK goroutine (acknowledged events). It never writes a file itself; the
// worker's commit loop does, so ACK processing never waits on fsync.
type committer struct {
	mu sync.Mutex
	// inflight counts events handed to the pipeline and not yet acknowledged.
	inflight int
	// pendingEmpty is the newest position of an empty page published while
	// events were still in flight: it becomes committable when they are all
	// acknowledged.
	pendingEmpty *position
	// ready is the newest committable position not yet taken by the loop.
	ready *position
	// lastSeq is the seq of the newest position made ready, so an older one
	// never overtakes it.
	lastSeq uint64
	signal  chan struct{}
}

func newCommitter() *committer {
	return &committer{signal: make(chan struct{}, 1)}
}

// published records n events about to be handed to the pipeline.
func (c *committer) published(n int) {
	c.mu.Lock()
	c.inflight += n
	c.mu.Unlock()
}

// emptyPage records a page without events: its position is committable as
// soon as everything published before it has been acknowledged.
func (c *committer) emptyPage(p *position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight == 0 {
		c.makeReady(p)
		return
	}
	c.pendingEmpty = p
}

// acked is the ACK listener: data holds the Private values of the events
// acknowledged (or dropped by processors) in publish order.
func (c *committer) acked(_ int, data []interface{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight -= len(data)
	for i := len(data) - 1; i >= 0; i-- {
		if p, ok := data[i].(*position); ok {
			c.makeReady(p)
			break
		}
	}
	if c.inflight == 0 && c.pendingEmpty != nil {
		c.makeReady(c.pendingEmpty)
		c.pendingEmpty = nil
	}
}

func (c *committer) makeReady(p *position) {
	if p.seq <= c.lastSeq {
		return
	}
	c.lastSeq = p.seq
	c.ready = p
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

// take returns the newest committable position, or nil.
func (c *committer) take() *position {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.ready
	c.ready = nil
	return p
}

// outstanding returns the number of events not yet acknowledged.
func (c *committer) outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight
}
