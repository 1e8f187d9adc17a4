package engine

import (
	"sync"
	"time"
)

// EventKind says what happened to a forward.
type EventKind string

// Event kinds.
const (
	EventListening   EventKind = "listening"    // the listener is bound
	EventConnOpened  EventKind = "conn-opened"  // a local connection reached a pod
	EventConnClosed  EventKind = "conn-closed"  // a local connection ended (bytes counted)
	EventConnFailed  EventKind = "conn-failed"  // a local connection could not be served
	EventConnRefused EventKind = "conn-refused" // local connections were refused: MaxConnections were open (at most one per 5 s)
	EventConnRetry   EventKind = "conn-retry"   // a pod refused a connection before answering, or could not be dialed: it goes to a pod again
	EventPodSwitch   EventKind = "pod-switch"   // new connections go to another pod
	EventTunnelOpen  EventKind = "tunnel-open"  // an upgraded connection to a pod was dialed
	EventTunnelClose EventKind = "tunnel-close" // a tunnel this forward used closed (reason in Message)
	EventHealth      EventKind = "health"       // the health state changed
	EventError       EventKind = "error"        // any other error (e.g. on a stream's error channel)
	EventStopped     EventKind = "stopped"      // the forward was stopped
)

// Event is one entry of a forward's log.
type Event struct {
	Seq      int       `json:"seq"` // 1, 2, 3… per forward; Events(since) returns Seq > since
	Time     time.Time `json:"time"`
	Kind     EventKind `json:"kind"`
	Pod      string    `json:"pod,omitempty"`
	Message  string    `json:"message,omitempty"`
	BytesIn  int64     `json:"bytes_in,omitempty"`  // conn-closed: bytes from the pod to the local client
	BytesOut int64     `json:"bytes_out,omitempty"` // conn-closed: bytes from the local client to the pod
}

// eventLog is a ring of the last max events. It allocates as it fills, so
// a forward that never logs much costs little.
type eventLog struct {
	mu      sync.Mutex
	max     int
	buf     []Event // ring once len(buf) == max
	start   int     // index of the oldest event once full
	seq     int
	changed chan struct{} // made on demand by a follower, closed on append
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	ev.Seq = l.seq
	if len(l.buf) < l.max {
		l.buf = append(l.buf, ev)
	} else {
		l.buf[l.start] = ev
		l.start = (l.start + 1) % l.max
	}
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// since returns the retained events with Seq > since (oldest first) and a
// channel closed when the next event is added.
func (l *eventLog) since(since int) ([]Event, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	n := len(l.buf)
	for i := range n {
		ev := l.buf[(l.start+i)%n]
		if ev.Seq > since {
			out = append(out, ev)
		}
	}
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return out, l.changed
}
