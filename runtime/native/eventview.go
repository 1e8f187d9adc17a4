package native

import (
	"strconv"
	"strings"

	"github.com/kpf-dev/kpf/runtime/native/engine"
)

// FormatEvent renders an event as one log line.
func FormatEvent(ev engine.Event) string {
	var b strings.Builder
	b.WriteString(ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	b.WriteByte(' ')
	b.WriteString(string(ev.Kind))
	if ev.Pod != "" {
		b.WriteString(" pod=" + ev.Pod)
	}
	if ev.BytesIn > 0 || ev.BytesOut > 0 {
		b.WriteString(" in=" + strconv.FormatInt(ev.BytesIn, 10) + " out=" + strconv.FormatInt(ev.BytesOut, 10))
	}
	if ev.Message != "" {
		b.WriteString(" " + ev.Message)
	}
	return b.String()
}
