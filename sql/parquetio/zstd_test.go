package parquetio

import (
	"bytes"
	"testing"

	"github.com/apache/arrow/go/v17/parquet/compress"
)

func TestRegisteredAndRoundTrips(t *testing.T) {
	Register()
	Register() // idempotent
	c, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*pooled); !ok {
		t.Fatalf("registered zstd codec is %T, want the pooled one", c)
	}
	src := bytes.Repeat([]byte("ctlimits parquet page "), 1000)
	for _, level := range []int{compress.DefaultCompressionLevel, 1, 3} {
		for range 3 {
			enc := c.EncodeLevel(nil, src, level)
			if len(enc) >= len(src) {
				t.Fatalf("level %d: %d bytes compressed to %d", level, len(src), len(enc))
			}
			if dec := c.Decode(nil, enc); !bytes.Equal(dec, src) {
				t.Fatalf("level %d: round trip differs", level)
			}
		}
	}
}
