package stream

import "testing"

// step is one thing that happens to a committer: a page with n events
// published (n == 0: an empty page), or k events acknowledged.
type step struct {
	page int // events in a published page; -1 for no page
	ack  int // events acknowledged (in order)
	// want is the cursor expected from take() after the step ("" = none).
	want string
}

func TestCommitter(t *testing.T) {
	cases := []struct {
		name  string
		steps []step
	}{
		{"page committed only after its last event is acked", []step{
			{page: 3, ack: 0, want: ""},
			{page: -1, ack: 2, want: ""},
			{page: -1, ack: 1, want: "c1"},
		}},
		{"two pages acked together commit the newer", []step{
			{page: 2},
			{page: 2},
			{page: -1, ack: 4, want: "c2"},
		}},
		{"partial ack of a later page commits the earlier one only", []step{
			{page: 2},
			{page: 3},
			{page: -1, ack: 3, want: "c1"},
			{page: -1, ack: 2, want: "c2"},
		}},
		{"empty page with nothing in flight commits at once", []step{
			{page: 0, want: "c1"},
		}},
		{"empty page waits for earlier events", []step{
			{page: 2},
			{page: 0, want: ""},
			{page: -1, ack: 1, want: ""},
			{page: -1, ack: 1, want: "c2"},
		}},
		{"empty page superseded by a later page", []step{
			{page: 1},
			{page: 0},
			{page: 2},
			{page: -1, ack: 1, want: "c1"},
			{page: -1, ack: 2, want: "c3"},
		}},
		{"no ack, no commit", []step{
			{page: 5},
			{page: 5, want: ""},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCommitter()
			var queue []any // Private values in publish order
			seq := uint64(0)
			for i, s := range tc.steps {
				if s.page >= 0 {
					seq++
					p := &position{seq: seq, cursor: "c" + string(rune('0'+seq))}
					if s.page == 0 {
						c.emptyPage(p)
					} else {
						c.published(s.page)
						for j := 0; j < s.page-1; j++ {
							queue = append(queue, nil)
						}
						queue = append(queue, p)
					}
				}
				if s.ack > 0 {
					c.acked(s.ack, queue[:s.ack])
					queue = queue[s.ack:]
				}
				got := ""
				if p := c.take(); p != nil {
					got = p.cursor
				}
				if got != s.want {
					t.Fatalf("step %d: committable cursor %q, want %q", i, got, s.want)
				}
			}
		})
	}
}
