package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	rpprof "runtime/pprof"
	"time"
)

// startProfiles honours --cpuprofile and --pprof.
func (a *app) startProfiles() error {
	if a.opts.CPUProfile != "" {
		f, err := os.Create(a.opts.CPUProfile)
		if err != nil {
			return fmt.Errorf("creating CPU profile: %w", err)
		}
		if err := rpprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting CPU profile: %w", err)
		}
		a.cpuFile = f
	}
	if a.opts.PprofAddr != "" {
		if err := a.servePprof(a.opts.PprofAddr); err != nil {
			return err
		}
	}
	return nil
}

// pprofAddr is where --pprof listens: a missing host is 127.0.0.1 (never
// every interface), and a host that is not a loopback address is refused
// unless anyAddr (--pprof-any-address) is set.
func pprofAddr(addr string, anyAddr bool) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--pprof %q: want HOST:PORT or :PORT: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && !anyAddr {
		return "", fmt.Errorf("--pprof %q is not a loopback address; anyone who reaches it could profile kpf: add --pprof-any-address to mean it", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// servePprof serves net/http/pprof on addr (see pprofAddr). It always says
// so on stderr, whatever --log-level, and louder when the address is not
// loopback. There is no /debug/pprof/cmdline: kpf's command line holds
// --var values.
func (a *app) servePprof(addr string) error {
	addr, err := pprofAddr(addr, a.opts.PprofAnyAddr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	bound := ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		fmt.Fprintf(a.io.Err, "Warning: serving pprof on %s, which is not loopback: anyone who reaches it can read kpf's memory profiles and goroutine stacks.\n", bound)
	} else {
		fmt.Fprintf(a.io.Err, "Warning: serving pprof on %s (profiles and goroutine stacks of this kpf).\n", bound)
	}
	mux := http.NewServeMux()
	// Index also serves the named profiles (heap, goroutine, …); it
	// answers 404 for "cmdline", which is not a profile.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.pprofSrv = srv
	a.log.Info("serving pprof", "addr", bound)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("pprof server stopped", "error", err)
		}
	}()
	return nil
}

// teardownProfiles stops the CPU profile and writes the heap profile.
func (a *app) teardownProfiles() error {
	var errs []error
	if a.cpuFile != nil {
		rpprof.StopCPUProfile()
		errs = append(errs, a.cpuFile.Close())
		a.cpuFile = nil
	}
	if a.opts.MemProfile != "" {
		f, err := os.Create(a.opts.MemProfile)
		if err != nil {
			errs = append(errs, fmt.Errorf("creating heap profile: %w", err))
		} else {
			runtime.GC()
			errs = append(errs, rpprof.WriteHeapProfile(f), f.Close())
		}
	}
	if a.pprofSrv != nil {
		errs = append(errs, a.pprofSrv.Close())
	}
	return errors.Join(errs...)
}
