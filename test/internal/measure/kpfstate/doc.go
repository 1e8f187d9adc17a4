// Package kpfstate is what the measurement tools under test/cmd share about
// the state of a workspace they run kpf in, with KPF_STATE_DIR set (as
// measure.Env sets it): its state directory and its agent's pid.
//
// It imports kpf's state and runtime/native/nativetest, as those tools did
// themselves, and nothing else of kpf, nor test/cluster or test/e2e. Tools
// that import no kpf package use its parent, measure, alone.
package kpfstate
