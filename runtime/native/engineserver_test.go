package native

import (
	"fmt"
	"testing"

	"github.com/kpf-dev/kpf/runtime/native/engine"
)

func TestTransportFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    engine.Transport
		wantErr string
	}{
		{"nothing set: auto", nil, engine.TransportAuto, ""},
		{"KPF_TRANSPORT", map[string]string{"KPF_TRANSPORT": "websocket"}, engine.TransportWebSocket, ""},
		{"KPF_TRANSPORT over kubectl's variable", map[string]string{"KPF_TRANSPORT": "auto", "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}, engine.TransportAuto, ""},
		{"kubectl's variable false: SPDY", map[string]string{"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}, engine.TransportSPDY, ""},
		{"kubectl's variable true: WebSocket", map[string]string{"KUBECTL_PORT_FORWARD_WEBSOCKETS": "True"}, engine.TransportWebSocket, ""},
		{"kubectl's variable, anything else", map[string]string{"KUBECTL_PORT_FORWARD_WEBSOCKETS": "1"}, engine.TransportAuto, ""},
		{"unknown KPF_TRANSPORT: an error, auto", map[string]string{"KPF_TRANSPORT": "ws"}, engine.TransportAuto, `KPF_TRANSPORT: unknown transport "ws" (auto, spdy or websocket)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TransportFromEnv(func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("transport = %q, want %q", got, tt.want)
			}
			if gotErr := fmt.Sprint(err); tt.wantErr == "" && err != nil || tt.wantErr != "" && gotErr != tt.wantErr {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}
