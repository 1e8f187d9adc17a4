package spec

import (
	"fmt"
	"regexp"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Block and attribute schemas of the spec language.
var (
	fileSchema = &hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "kpf"},
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "locals"},
			{Type: "defaults"},
			{Type: "forward", LabelNames: []string{"name"}},
			{Type: "output", LabelNames: []string{"name"}},
		},
	}
	kpfSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "name"},
			{Name: "probe_cache_ttl"},
			{Name: "check_interval"},
			{Name: "max_parallel"},
			{Name: "runtime"},
			{Name: "env_file"},
			{Name: "cluster_domain"},
		},
	}
	variableSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "type"},
			{Name: "default"},
			{Name: "description"},
			{Name: "sensitive"},
		},
	}
	defaultsSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "context"},
			{Name: "namespace"},
			{Name: "address"},
			{Name: "max_connections"},
			{Name: "hostnames"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "health"}},
	}
	forwardSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "target"},
			{Name: "selector"},
			{Name: "context"},
			{Name: "namespace"},
			{Name: "address"},
			{Name: "local_port"},
			{Name: "remote_port"},
			{Name: "enabled"},
			{Name: "open"},
			{Name: "runtime"},
			{Name: "max_connections"},
			{Name: "hostnames"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "health"}},
	}
	outputSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "value"},
			{Name: "description"},
			{Name: "sensitive"},
		},
	}
	healthSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "tcp"},
			{Name: "http"},
			{Name: "none"},
			{Name: "interval"},
			{Name: "timeout"},
			{Name: "failure_threshold"},
		},
	}
)

// hints maps a mistaken attribute or block name, per schema, to the name
// the user most likely meant.
func hintFor(schema *hcl.BodySchema, name string) string {
	var m map[string]string
	switch schema {
	case fileSchema:
		m = map[string]string{
			"forwards": "forward", "port_forward": "forward", "portforward": "forward",
			"service": "forward", "variables": "variable", "var": "variable",
			"local": "locals", "default": "defaults", "settings": "kpf", "config": "kpf",
			"outputs": "output",
		}
	case forwardSchema, defaultsSchema:
		m = map[string]string{
			"port": "local_port", "local": "local_port", "localport": "local_port",
			"localPort": "local_port", "remote": "remote_port", "remotePort": "remote_port",
			"target_port": "remote_port", "targetPort": "remote_port", "container_port": "remote_port",
			"service": "target", "pod": "target", "resource": "target",
			"labels": "selector", "label_selector": "selector", "ns": "namespace",
			"kube_context": "context", "kubecontext": "context", "cluster": "context",
			"disabled": "enabled", "enable": "enabled", "bind": "address",
			"bind_address": "address", "host": "address", "healthcheck": "health",
			"health_check": "health", "url": "open", "path": "open",
			"max_conns": "max_connections", "max_connection": "max_connections",
			"connections": "max_connections", "connection_limit": "max_connections",
			"hostname": "hostnames", "hosts": "hostnames", "names": "hostnames", "aliases": "hostnames",
		}
	case healthSchema:
		m = map[string]string{
			"path": "http", "http_path": "http", "threshold": "failure_threshold",
			"failures": "failure_threshold", "retries": "failure_threshold",
			"period": "interval", "every": "interval",
		}
	case kpfSchema:
		m = map[string]string{
			"parallel": "max_parallel", "parallelism": "max_parallel",
			"cache_ttl": "probe_cache_ttl", "interval": "check_interval",
			"envfile": "env_file", "dotenv": "env_file", "env": "env_file",
		}
	}
	return m[name]
}

// unsupportedName is compiled on first use, on an error path: a package
// variable would compile it at every kpf start (issue 20, point 11).
var unsupportedName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:An argument named|Blocks of type) "([^"]+)"`)
})

// content is body.Content(schema) with targeted hints for common mistakes.
func content(body hcl.Body, schema *hcl.BodySchema) (*hcl.BodyContent, hcl.Diagnostics) {
	if sb, ok := body.(*hclsyntax.Body); ok {
		if c, ok := plainContent(sb, schema); ok {
			return c, nil
		}
	}
	c, diags := body.Content(schema)
	for _, d := range diags {
		if d.Summary != "Unsupported argument" && d.Summary != "Unsupported block type" {
			continue
		}
		m := unsupportedName().FindStringSubmatch(d.Detail)
		if m == nil {
			continue
		}
		if h := hintFor(schema, m[1]); h != "" {
			kind := "An argument"
			if d.Summary == "Unsupported block type" {
				kind = "A block"
			}
			d.Detail = fmt.Sprintf("%s named %q is not expected here. Did you mean %s?", kind, m[1], h)
		}
	}
	return c, diags
}

// plainContent is body.Content(schema) for a body that has only what the
// schema allows (no unknown argument or block, every block with its
// labels), which is what Content returns for it without diagnostics; ok is
// false for any other body, which Content handles with its diagnostics.
// Content builds three maps and a remainder body per call to find what is
// not allowed; for a clean spec that was a tenth of a load's allocations.
func plainContent(b *hclsyntax.Body, schema *hcl.BodySchema) (*hcl.BodyContent, bool) {
	for name := range b.Attributes {
		if !hasAttribute(schema, name) {
			return nil, false
		}
	}
	for _, blk := range b.Blocks {
		bs, ok := blockSchema(schema, blk.Type)
		if !ok || len(blk.Labels) != len(bs.LabelNames) {
			return nil, false
		}
	}
	for _, as := range schema.Attributes {
		if as.Required {
			return nil, false
		}
	}
	c := &hcl.BodyContent{Attributes: make(hcl.Attributes, len(b.Attributes)), MissingItemRange: b.MissingItemRange()}
	for name, a := range b.Attributes {
		c.Attributes[name] = a.AsHCLAttribute()
	}
	if len(b.Blocks) > 0 {
		c.Blocks = make(hcl.Blocks, 0, len(b.Blocks))
		for _, blk := range b.Blocks {
			c.Blocks = append(c.Blocks, blk.AsHCLBlock())
		}
	}
	return c, true
}

func hasAttribute(schema *hcl.BodySchema, name string) bool {
	for _, as := range schema.Attributes {
		if as.Name == name {
			return true
		}
	}
	return false
}

func blockSchema(schema *hcl.BodySchema, typ string) (hcl.BlockHeaderSchema, bool) {
	for _, bs := range schema.Blocks {
		if bs.Type == typ {
			return bs, true
		}
	}
	return hcl.BlockHeaderSchema{}, false
}
