package state

import (
	"time"

	"github.com/kpf-dev/kpf/runtime"
)

// Version is the schema version this kpf writes. A file with a greater
// version is refused, never overwritten. Version 1 files (handles were a
// kubectl process's pid and start time) are read and upgraded on save.
const Version = 2

// File is the content of state.json: what kpf started, not what is running.
// What is running is always observed again (reconcile.Observe).
type File struct {
	Version int `json:"version"`
	// Workspace is the absolute path of the workspace directory.
	Workspace string `json:"workspace"`
	// Name is the workspace's display name.
	Name     string             `json:"name"`
	Forwards map[string]Forward `json:"forwards"`
	// EnvFile is the env file (the spec's env_file) kpf last wrote for
	// the workspace, so that destroy removes it without reading the spec.
	EnvFile string `json:"env_file,omitempty"`

	// Dir is the state directory the file was read from (Load, List);
	// it is not stored.
	Dir string `json:"-"`
}

// Forward is what kpf remembers of one forward it started.
type Forward struct {
	Name string `json:"name"`
	// Handle is the forward's identity, opaque above the runtime that made
	// it (and that alone stops it).
	Handle runtime.Handle `json:"handle"`
	// SpecHash identifies the process-shaping fields it was started with.
	SpecHash  string            `json:"spec_hash"`
	Target    string            `json:"target,omitempty"`
	Selector  map[string]string `json:"selector,omitempty"`
	Context   string            `json:"context"`
	Namespace string            `json:"namespace"`
	Address   string            `json:"address"`
	// Hostnames are the spec's hostnames it was started with: the names
	// the workspace's hosts-file block gives Address.
	Hostnames  []string `json:"hostnames,omitempty"`
	RemotePort string   `json:"remote_port"`
	// LocalPort is the port actually used; it stays chosen while free (sticky).
	LocalPort int `json:"local_port"`
	// WantedPort is the port the spec asked for (0 = auto).
	WantedPort int `json:"wanted_port"`
	// MaxConnections is the spec's max_connections it was started with
	// (0 = the runtime's default).
	MaxConnections int `json:"max_connections,omitempty"`
	// Health is the spec's health block it was started with, as
	// reconcile.FormatHealth renders it ("" = none, or started by a kpf
	// that did not record it).
	Health    string    `json:"health,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Restarts  int       `json:"restarts"`
	LastError string    `json:"last_error,omitempty"`
	// Sensitive names the fields (spec/model's FieldTarget, FieldContext,
	// …) whose value came from a sensitive variable when the forward was
	// started: views redact them even once the spec no longer has it.
	Sensitive []string `json:"sensitive,omitempty"`
}
