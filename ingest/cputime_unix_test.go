//go:build unix

package ingest

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user + system) this process has used so far.
// Benchmarks report CPU time per entry next to wall-clock rates because
// the machine they run on is shared: CPU time is steadier under load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
