//go:build !linux && !darwin

package proc

func lookup(int) (info, error) { return info{}, ErrUnsupported }
