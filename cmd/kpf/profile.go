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

// servePprof serves net/http/pprof on addr, warning when it is not loopback.
func (a *app) servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		a.log.Warn("pprof is served on a non-loopback address", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.pprofSrv = srv
	a.log.Info("serving pprof", "addr", ln.Addr().String())
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
