//go:build !unix

package ingest

import "time"

// processCPU is unknown here: CPU metrics are not reported.
func processCPU() time.Duration { return 0 }
