package replay

import (
	"encoding/binary"
	"hash/crc32"
)

// FixStateChecksum rewrites a state's trailing checksum to match the
// bytes before it (fuzzing: to reach past the checksum).
func FixStateChecksum(b []byte) {
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
}
