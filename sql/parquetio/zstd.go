package parquetio

import (
	"sync"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// arrow/go/v17's zstd codec builds a brand-new klauspost zstd encoder for
// every Parquet page it compresses (parquet/compress/zstd.go, EncodeLevel),
// and each new encoder allocates and clears its history window (megabytes)
// before it compresses a few kilobytes. Profiles of ctlimits showed that
// at a quarter of all ingest CPU and over a third of the cost of writing
// replay decisions. The codec RegisterZstd installs keeps one encoder per
// level instead (a zstd.Encoder's EncodeAll is safe for concurrent use and
// keeps its own pool of block encoders); the output is the same kind of
// zstd frames, readable by any zstd decoder.

// pooled is arrow's zstd codec with EncodeLevel (what the Parquet page
// writer calls) served by cached encoders.
type pooled struct {
	compress.Codec
	mu       sync.Mutex
	encoders map[int]*zstd.Encoder
}

var registerOnce sync.Once

// Register installs ctlimits' Parquet codecs, process-wide: zstd whose
// encoders are reused (above) and whose decoding is bounded by the page's
// declared size, and snappy with the same bound (decode.go). Every
// Parquet writer and reader of ctlimits calls it before its first file;
// calling it again does nothing. It is explicit, not an import's side
// effect, so a reader can see where arrow's codecs are replaced.
func Register() {
	registerOnce.Do(func() {
		registerBounded()
		base, err := compress.GetCodec(compress.Codecs.Zstd)
		if err != nil {
			return // no zstd registered: nothing to speed up
		}
		compress.RegisterCodec(compress.Codecs.Zstd, &pooled{Codec: base, encoders: map[int]*zstd.Encoder{}})
	})
}

// EncodeLevel compresses src into dst at level, as arrow's codec does,
// with an encoder kept for that level.
func (z *pooled) EncodeLevel(dst, src []byte, level int) []byte {
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
