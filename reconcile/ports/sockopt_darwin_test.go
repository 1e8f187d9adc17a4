package ports

const soReusePort = 0x200 // SO_REUSEPORT
