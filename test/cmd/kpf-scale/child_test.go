//go:build linux

package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain lets the tests start this test binary as kpf-scale's child.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2:], os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestFloodChild floods a listener that greets every connection from a
// child process: it reports them served, and holds them open until its
// stdin closes.
func TestFloodChild(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var open, ended atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Add(1)
			go func() {
				defer c.Close()
				_, _ = c.Write([]byte("hi"))
				_, _ = c.Read(make([]byte, 1)) // until the child closes it
				ended.Add(1)
			}()
		}
	}()
	const n = 20
	port := ln.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := startChild(ctx, childFlood, strconv.Itoa(port), strconv.Itoa(n))
	if err != nil {
		t.Fatal(err)
	}
	var rep floodReport
	if err := c.read(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Served != n || rep.Refused != 0 || rep.Failed != 0 {
		t.Errorf("report %+v; want %d served", rep, n)
	}
	time.Sleep(50 * time.Millisecond)
	if e := ended.Load(); e != 0 {
		t.Errorf("%d connections ended before the child was told to release them", e)
	}
	if err := c.finish(nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ended.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if e := ended.Load(); e != n {
		t.Errorf("%d of %d connections ended after the child exited", e, n)
	}
}

// TestChildRefusesUnknownMode: a child started with arguments it does not
// know fails rather than measuring nothing.
func TestChildRefusesUnknownMode(t *testing.T) {
	c, err := startChild(context.Background(), "nope")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.finish(&floodReport{}); err == nil {
		t.Fatal("a child in an unknown mode succeeded")
	}
}
