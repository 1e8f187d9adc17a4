package ports

import "syscall"

const soReusePort = 0xf // SO_REUSEPORT

var _ = syscall.SOL_SOCKET
