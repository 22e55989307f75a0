package parquetio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// Arrow's codecs decode a page into a buffer of the size its header
// declares (orderio checks those sizes first), but the zstd and snappy decoders
// allocate what the compressed stream itself declares: a zstd frame's
// content size or a snappy block's length, up to gigabytes from a few
// damaged bytes. The wrappers below decode into the declared buffer and
// no further; the rest of each codec (encoding, used when writing) is
// arrow's own. Errors are panics, as in arrow's codecs; orderio's
// Parquet reader turns them into errors.
func registerBounded() {
	for _, c := range []compress.Compression{compress.Codecs.Zstd, compress.Codecs.Snappy} {
		if orig, err := compress.GetCodec(c); err == nil {
			compress.RegisterCodec(c, boundedCodec{Codec: orig, zstd: c == compress.Codecs.Zstd})
		}
	}
}

type boundedCodec struct {
	compress.Codec
	zstd bool
}

// maxZstdWindow bounds the history a zstd frame may ask for: libzstd
// uses at most 8 MiB below level 20, and shrinks it to the input.
const maxZstdWindow = 16 << 20

var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		panic(err)
	}
	return d
}}

func (b boundedCodec) Decode(dst, src []byte) []byte {
	if dst == nil {
		return b.Codec.Decode(dst, src)
	}
	if !b.zstd {
		if n, k := binary.Uvarint(src); k <= 0 || n > uint64(len(dst)) {
			panic(fmt.Errorf("a snappy block declares %d bytes in a page of %d", n, len(dst)))
		}
		return b.Codec.Decode(dst, src)
	}
	d := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(d)
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		panic(fmt.Errorf("zstd: %w", err))
	}
	n, err := io.ReadFull(d, dst)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return dst[:n] // short: arrow reports the sizes
	case err != nil:
		panic(fmt.Errorf("zstd: %w", err))
	}
	var extra [1]byte
	if k, _ := d.Read(extra[:]); k > 0 {
		panic(fmt.Errorf("a zstd page holds more than the %d bytes its header declares", len(dst)))
	}
	return dst
}
