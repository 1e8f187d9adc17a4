// Command fakekubectl stands in for kubectl in the kubectl runtime's tests.
// Its behaviour is driven by environment variables:
//
//	FAKE_KUBECTL_ARGV_FILE  append the argv (JSON, one line per run) here
//	FAKE_KUBECTL_PID_FILE   write the pid here (port-forward)
//	FAKE_KUBECTL_MODE       port-forward: ready | fail | hang | ready-then-error
//	FAKE_KUBECTL_MSG        fail: lines printed to stderr before exit 1
//	FAKE_KUBECTL_IGNORE_TERM=1  ignore SIGTERM (to test SIGKILL escalation)
//	FAKE_KUBECTL_PODS       get pods: names printed (space separated)
//	FAKE_KUBECTL_GET_MSG    get pods / config: error printed, exit 1
//	FAKE_KUBECTL_CONTEXT    config current-context
//	FAKE_KUBECTL_CONTEXTS   config get-contexts -o name and config view (space separated NAME[=NAMESPACE])
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if f := os.Getenv("FAKE_KUBECTL_ARGV_FILE"); f != "" {
		b, _ := json.Marshal(args)
		fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			fmt.Fprintln(fh, string(b))
			fh.Close()
		}
	}
	if len(args) == 0 {
		fail("error: no command")
	}
	switch {
	case args[0] == "port-forward":
		portForward(args)
	case args[0] == "get" && len(args) > 1 && args[1] == "pods":
		if m := os.Getenv("FAKE_KUBECTL_GET_MSG"); m != "" {
			fail(m)
		}
		fmt.Print(os.Getenv("FAKE_KUBECTL_PODS"))
	case args[0] == "config" && len(args) > 1 && args[1] == "current-context":
		if m := os.Getenv("FAKE_KUBECTL_GET_MSG"); m != "" {
			fail(m)
		}
		fmt.Println(os.Getenv("FAKE_KUBECTL_CONTEXT"))
	case args[0] == "config" && len(args) > 1 && args[1] == "view":
		// FAKE_KUBECTL_CONTEXTS entries are NAME or NAME=NAMESPACE.
		for _, c := range strings.Fields(os.Getenv("FAKE_KUBECTL_CONTEXTS")) {
			name, ns, _ := strings.Cut(c, "=")
			fmt.Printf("%s\t%s\n", name, ns)
		}
	case args[0] == "config" && len(args) > 1 && args[1] == "get-contexts":
		for _, c := range strings.Fields(os.Getenv("FAKE_KUBECTL_CONTEXTS")) {
			name, _, _ := strings.Cut(c, "=")
			fmt.Println(name)
		}
	default:
		fail("error: unknown command " + strconv.Quote(args[0]))
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(1)
}

func flag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func portForward(args []string) {
	if f := os.Getenv("FAKE_KUBECTL_PID_FILE"); f != "" {
		_ = os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o600)
	}
	if os.Getenv("FAKE_KUBECTL_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
	}
	switch os.Getenv("FAKE_KUBECTL_MODE") {
	case "fail":
		fail(os.Getenv("FAKE_KUBECTL_MSG"))
	case "hang":
		// Asleep on a timer, not select{}: without cgo (CGO_ENABLED=0, or
		// no C compiler) the runtime ends a program whose goroutines all
		// block forever ("all goroutines are asleep - deadlock!").
		for {
			time.Sleep(time.Hour)
		}
	case "ready", "ready-then-error":
	default:
		fail("error: FAKE_KUBECTL_MODE not set")
	}
	ports := strings.SplitN(args[2], ":", 2)
	addr := flag(args, "--address")
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, ports[0]))
	if err != nil {
		fail(fmt.Sprintf("error: unable to listen on any of the requested ports: [{%s %s}]", ports[0], ports[1]))
	}
	fmt.Printf("Forwarding from %s -> %s\n", ln.Addr(), ports[1])
	if os.Getenv("FAKE_KUBECTL_MODE") == "ready-then-error" {
		time.Sleep(500 * time.Millisecond) // kpf polls the log: long enough to see ready under load
		fmt.Fprintf(os.Stderr, "E1128 12:04:50.024754   16008 portforward.go:413] an error occurred forwarding %s -> %s: error forwarding port %s to pod abc, uid : failed to connect\n", ports[0], ports[1], ports[1])
		fail("error: lost connection to pod")
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fail("error: " + err.Error())
		}
		fmt.Printf("Handling connection for %s\n", ports[0]) // as kubectl does
		fmt.Fprintln(c, "fake")
		c.Close()
	}
}
