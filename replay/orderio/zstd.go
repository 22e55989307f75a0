package orderio

import (
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// arrow/go/v17's zstd codec builds a new encoder for every Parquet page
// (compress/zstd.go EncodeLevel), and each new encoder allocates and clears
// its history window: profiles showed that at over a third of the cost of
// writing decisions. This codec keeps one encoder per level instead; a
// zstd.Encoder's EncodeAll is safe for concurrent use. The output bytes are
// the same zstd frames. It replaces the registered codec process-wide.
type pooledZstd struct {
	compress.Codec
	mu       sync.Mutex
	encoders map[int]*zstd.Encoder
}

func init() {
	base, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return // no zstd registered: nothing to speed up
	}
	compress.RegisterCodec(compress.Codecs.Zstd, &pooledZstd{Codec: base, encoders: map[int]*zstd.Encoder{}})
}

func (z *pooledZstd) EncodeLevel(dst, src []byte, level int) []byte {
	z.mu.Lock()
	enc, ok := z.encoders[level]
	if !ok {
		lvl := zstd.SpeedDefault
		if level != compress.DefaultCompressionLevel {
			lvl = zstd.EncoderLevelFromZstd(level)
		}
		var err error
		enc, err = zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(lvl))
		if err != nil {
			z.mu.Unlock()
			return z.Codec.EncodeLevel(dst, src, level)
		}
		z.encoders[level] = enc
	}
	z.mu.Unlock()
	return enc.EncodeAll(src, dst[:0])
}
