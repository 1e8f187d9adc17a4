package model

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/kpf-dev/kpf/internal/kinds"
)

// Workspace is a loaded, fully evaluated and validated workspace: plain Go
// values only. Nothing downstream of spec ever sees HCL.
type Workspace struct {
	// Dir is the absolute path of the workspace directory.
	Dir string
	// Name is kpf.name, or the base name of Dir.
	Name string
	// Settings come from the kpf block, with defaults applied.
	Settings Settings
	// Forwards holds every declared forward (enabled or not), sorted by Name.
	Forwards []Forward
	// Files lists the files read, in load order (relative to Dir).
	Files []string
}

// Settings are the workspace-wide knobs of the kpf block.
type Settings struct {
	ProbeCacheTTL time.Duration // default 5s
	CheckInterval time.Duration // default 2s
	MaxParallel   int           // default 10
	// EnvFile is the absolute path of the env file kpf keeps current
	// (env_file in the kpf block); "" when none.
	EnvFile string `json:",omitempty"`
	// Runtime is the runtime of forwards that name none ("" = the default).
	Runtime string
	// ClusterDomain is the cluster domain hostnames = "service" derives
	// names with (cluster_domain in the kpf block); "" = DefaultClusterDomain.
	ClusterDomain string `json:",omitempty"`
}

// Default settings applied when the kpf block does not set them.
const (
	DefaultProbeCacheTTL = 5 * time.Second
	DefaultCheckInterval = 2 * time.Second
	DefaultMaxParallel   = 10
	DefaultAddress       = "127.0.0.1"
	// DefaultClusterDomain is the cluster domain of derived hostnames.
	DefaultClusterDomain = "cluster.local"
	// MaxMaxConnections is the largest max_connections a spec may set.
	MaxMaxConnections = 1 << 20
)

// Forward is one desired port-forward after defaults and overrides.
type Forward struct {
	Name string
	// Target is set when the forward names a resource (service/api);
	// it is the zero Target when Selector is used instead.
	Target Target
	// Selector picks a pod by labels; nil when Target is set.
	Selector map[string]string
	// Context is the kube context; "" means kubectl's current context,
	// which the caller resolves at plan time (never implicitly followed).
	Context   string
	Namespace string // "" means the context's namespace ("default" if none)
	Address   string // IP literal; DefaultAddress unless set
	// Hostnames are the names the forward is reached by (hostnames, its
	// own or the defaults', with "service" expanded), in the order written;
	// nil when none.
	Hostnames []string `json:",omitempty"`
	// AutoAddress: the forward has hostnames and no address was written
	// (neither its own nor the defaults'), so kpf gives it a loopback
	// address of its own at plan time (see package names); Address holds
	// DefaultAddress until then.
	AutoAddress bool `json:",omitempty"`
	LocalPort   int  // 0 = pick a free port once and keep it
	// RemotePort is a number ("8080") or a named port ("http").
	RemotePort string
	Enabled    bool
	Open       string // URL path for `kpf open`; "" = "/"
	// Runtime names the runtime that serves the forward (RuntimeNative or
	// RuntimeKubectl): its own, else the kpf block's; "" means the default.
	Runtime string
	Health  Health
	// MaxConnections caps the connections the forward serves at once
	// (max_connections, its own or the defaults'); 0 = the runtime's
	// default. Runtimes that cannot cap ignore it.
	MaxConnections int `json:",omitempty"`
	// Decl is where the forward block was declared.
	Decl Pos
	// Sensitive names the fields (FieldTarget, FieldContext, …) whose value
	// came from a variable declared sensitive = true, or from anything
	// computed from one; views must redact them. nil when none did.
	Sensitive map[string]bool `json:",omitempty"`
}

// Field names of Forward.Sensitive.
const (
	FieldTarget     = "Target"
	FieldSelector   = "Selector"
	FieldContext    = "Context"
	FieldNamespace  = "Namespace"
	FieldAddress    = "Address"
	FieldLocalPort  = "LocalPort"
	FieldRemotePort = "RemotePort"
	FieldEnabled    = "Enabled"
	FieldOpen       = "Open"
	FieldHealth     = "Health"
	FieldHostnames  = "Hostnames"
	// FieldMaxConnections is max_connections.
	FieldMaxConnections = "MaxConnections"
)

// SensitiveFields returns the names of f's fields that came from a
// sensitive value, sorted.
func (f *Forward) SensitiveFields() []string {
	out := make([]string, 0, len(f.Sensitive))
	for k, v := range f.Sensitive {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Target names a Kubernetes resource to forward to: Kind normalised
// ("service", "pod", "deployment" or "statefulset") and Name. It is the
// one target type of kpf (internal/kinds), which the runtimes and the
// native engine take as spec parsed it.
type Target = kinds.Target

// HealthKind says how a forward's health is checked.
type HealthKind string

// Health check kinds.
const (
	HealthTCP  HealthKind = "tcp" // default: a TCP connect to the local port
	HealthHTTP HealthKind = "http"
	HealthNone HealthKind = "none"
)

// Health is a forward's health check. Zero durations and threshold mean
// the runtimes' defaults (runtime.DefaultHealthInterval 5 s,
// DefaultHealthTimeout 2 s, DefaultHealthThreshold 3: one set for
// everything that checks).
type Health struct {
	Kind             HealthKind
	HTTPPath         string        // for HealthHTTP
	Interval         time.Duration // 0: the default
	Timeout          time.Duration // 0: the default
	FailureThreshold int           // consecutive failures before unhealthy; 0: the default
	// Declared: a health block applies to the forward (its own or the
	// defaults block's), so it is checked while idle too; without one it
	// may stay unchecked while nobody uses it.
	Declared bool
}

// Pos is a source position, kept as plain data so that packages that must
// not import hcl can still point at the spec.
type Pos struct {
	File   string
	Line   int
	Column int
}

func (p Pos) String() string {
	if p.File == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Runtimes a spec may name.
const (
	RuntimeNative  = "native"
	RuntimeKubectl = "kubectl"
)

// Runtimes lists the runtime names a spec may use.
var Runtimes = []string{RuntimeNative, RuntimeKubectl}

// Endpoint is where a running forward can be reached: what output blocks
// see as forward.NAME.host, .port, .address and .url, and what kpf env
// exports as KPF_NAME_HOST, _PORT, _ADDRESS and _URL.
type Endpoint struct {
	// Host is the address to connect to: the forward's address, loopback
	// for a wildcard bind.
	Host string
	// Port is the local port actually used.
	Port int
	// Address is host:port, an IPv6 host in brackets.
	Address string
	// URL is http://Address followed by the forward's open path ("/" when
	// it has none).
	URL string
}

// NewEndpoint is the endpoint of a forward bound to address:port whose
// open path is open.
func NewEndpoint(address string, port int, open string) Endpoint {
	address = DialAddress(address)
	if open == "" {
		open = "/"
	}
	if open[0] != '/' {
		open = "/" + open
	}
	hp := net.JoinHostPort(address, strconv.Itoa(port))
	return Endpoint{Host: address, Port: port, Address: hp, URL: "http://" + hp + open}
}

// DialAddress is the address a client connects to for a forward bound to
// address: a wildcard bind is reached on loopback.
func DialAddress(address string) string {
	switch address {
	case "", "0.0.0.0":
		return "127.0.0.1"
	case "::":
		return "::1"
	}
	return address
}

// HostPort renders address:port as messages and views show it, an IPv6
// address in brackets; port 0 (not chosen yet) shows as "?".
func HostPort(address string, port int) string {
	if port == 0 {
		return net.JoinHostPort(address, "?")
	}
	return net.JoinHostPort(address, strconv.Itoa(port))
}

// Output is one output block evaluated against what runs: plain values for
// the views and for kpf output, env and run.
type Output struct {
	Name        string
	Description string
	// Sensitive: declared sensitive = true, or computed from a sensitive
	// variable. Views show it only where asked for explicitly.
	Sensitive bool
	// Known is false when the value depends on a forward that is not
	// running or whose port is not chosen yet (Missing names them).
	Known   bool
	Missing []string
	// Type is the value's type as the spec would write it: string,
	// number, bool, or a collection type.
	Type string
	// Text is the value as a string: a string as it is, a number or bool
	// as text, anything else as JSON. JSON is the value as JSON.
	Text string
	JSON []byte
	// Decl is where the output block is declared.
	Decl Pos
}
