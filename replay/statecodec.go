package replay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// The byte-level codec of the replay state (state.go): a buffered writer
// and reader that keep a CRC-32C of every byte, varints, and keys
// prefix-compressed against the key before them.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const codecBuf = 64 << 10

type encoder struct {
	w   io.Writer
	buf []byte
	crc uint32
	n   int64 // bytes written, flushed or not
	err error
}

func newEncoder(w io.Writer) *encoder {
	return &encoder{w: w, buf: make([]byte, 0, codecBuf+1024)}
}

func (e *encoder) maybeFlush() {
	if len(e.buf) >= codecBuf {
		e.flush()
	}
}

func (e *encoder) flush() {
	e.crc = crc32.Update(e.crc, castagnoli, e.buf)
	e.n += int64(len(e.buf))
	if e.err == nil && len(e.buf) > 0 {
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *encoder) byte(b byte)      { e.buf = append(e.buf, b) }
func (e *encoder) bytes(b []byte)   { e.buf = append(e.buf, b...); e.maybeFlush() }
func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v); e.maybeFlush() }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v); e.maybeFlush() }

// str writes a length-prefixed string.
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.maybeFlush()
}

// key writes cur as the length of its prefix shared with prev and the
// rest, length-prefixed.
func (e *encoder) key(prev, cur []byte) {
	shared := 0
	for shared < len(prev) && shared < len(cur) && prev[shared] == cur[shared] {
		shared++
	}
	e.uvarint(uint64(shared))
	e.uvarint(uint64(len(cur) - shared))
	e.bytes(cur[shared:])
}

// checksum writes the CRC-32C of every byte written so far and flushes.
func (e *encoder) checksum() {
	e.flush()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], e.crc)
	e.buf = append(e.buf, b[:]...)
	e.flush()
}

// errDamaged is wrapped by every error about a state that is not a valid
// encoding.
var errDamaged = ErrStateDamaged

type decoder struct {
	r        io.Reader
	buf      []byte
	pos, end int
	crcFrom  int    // buf[crcFrom:pos] is consumed but not yet in crc
	crc      uint32 // of every byte consumed before buf[crcFrom]
	base     int64  // stream offset of buf[0]
	eof      bool
	err      error

	lastHeader byte // the last set entry's header byte (hash)
}

// newDecoder starts with a small buffer (most states refused are refused
// in the header) that grows to codecBuf as a large state streams in.
func newDecoder(r io.Reader) *decoder { return &decoder{r: r, buf: make([]byte, 512)} }

// offset is the stream position of the next byte.
func (d *decoder) offset() int64 { return d.base + int64(d.pos) }

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w at byte %d: %s", errDamaged, d.offset(), fmt.Sprintf(format, args...))
	}
}

// ensure makes at least k bytes available, unless the stream ends first.
func (d *decoder) ensure(k int) bool {
	if d.end-d.pos >= k {
		return true
	}
	d.crc = crc32.Update(d.crc, castagnoli, d.buf[d.crcFrom:d.pos])
	if len(d.buf) < codecBuf && (k > len(d.buf) || d.end == len(d.buf)) {
		d.buf = append(d.buf[:d.end], make([]byte, min(codecBuf, 2*max(k, len(d.buf)))-d.end)...)
	}
	n := copy(d.buf, d.buf[d.pos:d.end])
	d.base += int64(d.pos)
	d.pos, d.end, d.crcFrom = 0, n, 0
	for d.end < k && !d.eof {
		m, err := d.r.Read(d.buf[d.end:])
		d.end += m
		if err == io.EOF {
			d.eof = true
		} else if err != nil {
			if d.err == nil {
				d.err = fmt.Errorf("couldn't read the replay state: %w", err)
			}
			return false
		}
	}
	return d.end-d.pos >= k
}

func (d *decoder) truncated() {
	if d.err == nil {
		d.err = fmt.Errorf("%w: it ends at byte %d, in the middle (%w)", errDamaged, d.base+int64(d.end), io.ErrUnexpectedEOF)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if !d.ensure(1) {
		d.truncated()
		return 0
	}
	d.pos++
	return d.buf[d.pos-1]
}

// bytes returns the next n bytes (n <= codecBuf), valid until the next
// read.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > codecBuf {
		d.fail("a field of %d bytes", n)
		return nil
	}
	if !d.ensure(n) {
		d.truncated()
		return nil
	}
	d.pos += n
	return d.buf[d.pos-n : d.pos]
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	d.ensure(binary.MaxVarintLen64)
	v, n := binary.Uvarint(d.buf[d.pos:d.end])
	switch {
	case n == 0:
		d.truncated()
		return 0
	case n < 0:
		d.fail("a number overflows 64 bits")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// count reads a count of at most limit.
func (d *decoder) count(what string, limit uint64) int {
	v := d.uvarint()
	if v > limit {
		d.fail("%d %s, more than the %d a state can hold", v, what, limit)
		return 0
	}
	return int(v)
}

// str reads a length-prefixed string of at most limit bytes.
func (d *decoder) str(what string, limit int) string {
	n := d.count(what+" bytes", uint64(limit))
	return string(d.bytes(n))
}

// key reads a key written by encoder.key after prev into dst, and checks
// that it sorts strictly after prev (unless first).
func (d *decoder) key(dst, prev []byte, first bool, what string, limit int) []byte {
	shared := d.uvarint()
	rest := d.uvarint()
	if d.err != nil {
		return dst
	}
	if shared > uint64(len(prev)) || rest > uint64(limit) || shared+rest > uint64(limit) {
		d.fail("a %s of %d+%d bytes after one of %d (at most %d)", what, shared, rest, len(prev), limit)
		return dst
	}
	dst = append(append(dst[:0], prev[:shared]...), d.bytes(int(rest))...)
	if d.err == nil && !first && bytes.Compare(dst, prev) <= 0 {
		d.fail("%s %q does not sort after %q", what, dst, prev)
	}
	return dst
}

// checkCRC reads a checksum written by encoder.checksum and compares it
// with the CRC-32C of every byte read before it.
func (d *decoder) checkCRC(what string) {
	if d.err != nil {
		return
	}
	d.crc = crc32.Update(d.crc, castagnoli, d.buf[d.crcFrom:d.pos])
	d.crcFrom = d.pos
	want := d.crc
	b := d.bytes(4)
	if d.err != nil {
		return
	}
	if got := binary.LittleEndian.Uint32(b); got != want {
		d.err = fmt.Errorf("%w: the %s checksum is %08x, the bytes before it sum to %08x", errDamaged, what, got, want)
	}
	d.crc = crc32.Update(d.crc, castagnoli, b)
	d.crcFrom = d.pos
}

// after returns at+delta for a delta > 0, refusing an overflow.
func (d *decoder) after(at int64, delta uint64, what string) int64 {
	if delta == 0 || delta > math.MaxInt64 || at+int64(delta) < at {
		d.fail("%s %d ns after %d is out of range", what, delta, at)
		return at + 1
	}
	return at + int64(delta)
}
