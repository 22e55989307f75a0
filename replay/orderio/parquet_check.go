package orderio

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow/go/v17/parquet/compress"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/thrift/lib/go/thrift"
)

// A damaged Parquet file must be an error naming it, never a crash: arrow
// trusts the file's sizes and headers, dereferencing a missing header,
// panicking in its decoders (some on its own goroutines, out of reach of
// recover) and allocating whatever a page header declares (one 8 KB file
// asked for 32 GiB). checkParquet therefore validates, before arrow reads
// any page, every column chunk against the file's bounds and every page
// header against its chunk; openParquet and Read recover from whatever
// slips past as a last line of defense.

// ErrDamagedParquet is wrapped by every error about a damaged Parquet file.
var ErrDamagedParquet = errors.New("damaged Parquet")

// damaged formats the error for a damaged file at a place ("footer",
// "row group 2 column 1").
func damaged(path, where string, format string, args ...any) error {
	return fmt.Errorf("%s: %w at %s: %s: regenerate or replace the file", path, ErrDamagedParquet, where, fmt.Sprintf(format, args...))
}

// maxPageHeader bounds one page header (statistics included); arrow's
// own limit is 16 MiB.
const maxPageHeader = 16 << 20

// maxInflation bounds how many times larger a page may declare itself
// once decompressed. zstd and snappy can exceed it only on contrived
// input; a lie beyond it would make arrow allocate the declared size.
const (
	maxInflation   = 1024
	minPageAllowed = 1 << 20
)

// checkParquetFile checks a Parquet file before arrow reads its pages:
// the magic bytes and footer length, then (once arrow has parsed the
// footer) every column chunk and page header.
func checkParquetFile(path string, pf *file.Reader) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("couldn't open orders: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("couldn't open orders: %w", err)
	}
	footerLen, err := checkParquetFooter(path, f, st.Size())
	if err != nil || pf == nil {
		return err
	}
	return checkParquetChunks(path, pf, f, st.Size(), footerLen)
}

// checkParquetFooter checks the magic bytes and the footer length and
// returns the latter.
func checkParquetFooter(path string, f io.ReaderAt, size int64) (int64, error) {
	if size < 12 {
		return 0, damaged(path, "the end", "only %d bytes; a Parquet file has at least 12", size)
	}
	var head [4]byte
	var tail [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return 0, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return 0, fmt.Errorf("couldn't read %s: %w", path, err)
	}
	if string(head[:]) != "PAR1" {
		return 0, fmt.Errorf("%s is not a Parquet file (it does not start with PAR1)", path)
	}
	if string(tail[4:]) == "PARE" {
		return 0, fmt.Errorf("%s is an encrypted Parquet file; ctlimits reads only plain ones", path)
	}
	if string(tail[4:]) != "PAR1" {
		return 0, damaged(path, "the end", "no PAR1 trailer (truncated?)")
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-12 {
		return 0, damaged(path, "the footer", "footer length %d in a %d-byte file", n, size)
	}
	return n, nil
}

// checkParquetChunks validates the metadata arrow has parsed and walks
// every page header of every column chunk.
func checkParquetChunks(path string, pf *file.Reader, f io.ReaderAt, size, footerLen int64) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = damaged(path, "the footer", "%v", r)
		}
	}()
	md := pf.MetaData()
	dataEnd := size - 8 - footerLen
	leaves := md.Schema.NumColumns()
	var rows int64
	for g := 0; g < pf.NumRowGroups(); g++ {
		rg := md.RowGroup(g)
		if rg == nil || rg.NumColumns() != leaves {
			return damaged(path, fmt.Sprintf("row group %d", g), "it has %d columns, the schema %d", rg.NumColumns(), leaves)
		}
		if rg.NumRows() < 0 {
			return damaged(path, fmt.Sprintf("row group %d", g), "%d rows", rg.NumRows())
		}
		rows += rg.NumRows()
		for c := 0; c < leaves; c++ {
			where := fmt.Sprintf("row group %d column %d", g, c)
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return damaged(path, where, "%v", err)
			}
			if cc.CryptoMetadata() != nil {
				return fmt.Errorf("%s: column %d is encrypted; ctlimits reads only plain Parquet", path, c)
			}
			if cc.FilePath() != "" {
				return fmt.Errorf("%s: column %d lives in another file (%s); ctlimits reads self-contained Parquet", path, c, cc.FilePath())
			}
			switch cc.Compression() {
			case compress.Codecs.Uncompressed, compress.Codecs.Snappy, compress.Codecs.Gzip, compress.Codecs.Brotli, compress.Codecs.Zstd, compress.Codecs.Lz4:
			default:
				return damaged(path, where, "unknown compression %d", cc.Compression())
			}
			if rg.NumRows() == 0 && cc.NumValues() == 0 {
				// An empty row group (arrow writes one for an empty
				// batch) has chunks with no pages, at offset 0.
				continue
			}
			start := cc.DataPageOffset()
			if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && start > cc.DictionaryPageOffset() {
				start = cc.DictionaryPageOffset()
			}
			length := cc.TotalCompressedSize()
			if start < 4 || length <= 0 || length > dataEnd-start {
				return damaged(path, where, "its pages claim bytes %d to %d of a file whose data ends at %d", start, start+length, dataEnd)
			}
			if cc.NumValues() < 0 {
				return damaged(path, where, "%d values", cc.NumValues())
			}
			if err := checkPages(f, start, length, cc.NumValues(), cc.Compression()); err != nil {
				return damaged(path, where, "%v", err)
			}
		}
	}
	if rows != md.NumRows {
		return damaged(path, "the footer", "the row groups hold %d rows, the footer says %d", rows, md.NumRows)
	}
	return nil
}

// Page types (parquet.thrift PageType).
const (
	dataPage       = 0
	indexPage      = 1
	dictionaryPage = 2
	dataPageV2     = 3
)

// pageHeader is the part of parquet.thrift's PageHeader that bounds what
// arrow allocates and dereferences.
type pageHeader struct {
	typ                      int32
	uncompressed, compressed int32
	hasData, hasDict, hasV2  bool
	numValues                int32
	levelBytes               int64 // v2: definition + repetition level bytes
}

// checkPages walks the page headers of one column chunk.
func checkPages(f io.ReaderAt, start, length, numValues int64, codec compress.Compression) error {
	r := io.NewSectionReader(f, start, length)
	var values int64
	var pos int64
	for pos < length {
		h, n, err := readPageHeader(r, pos, length-pos)
		if err != nil {
			return fmt.Errorf("page header at byte %d: %w", start+pos, err)
		}
		pos += n
		c, u := int64(h.compressed), int64(h.uncompressed)
		switch {
		case c < 0 || u < 0:
			return fmt.Errorf("page at byte %d declares %d bytes compressed, %d uncompressed", start+pos, c, u)
		case c > length-pos:
			return fmt.Errorf("page at byte %d declares %d bytes, but the column chunk has %d left", start+pos, c, length-pos)
		case u > minPageAllowed+maxInflation*c:
			return fmt.Errorf("page at byte %d declares %d bytes from %d compressed", start+pos, u, c)
		case codec == compress.Codecs.Uncompressed && h.typ != dataPageV2 && u != c:
			return fmt.Errorf("uncompressed page at byte %d declares %d bytes but holds %d", start+pos, u, c)
		}
		switch h.typ {
		case dataPage:
			if !h.hasData {
				return fmt.Errorf("data page at byte %d has no data page header", start+pos)
			}
		case dataPageV2:
			if !h.hasV2 {
				return fmt.Errorf("data page at byte %d has no data page header", start+pos)
			}
			if h.levelBytes < 0 || h.levelBytes > c || h.levelBytes > u {
				return fmt.Errorf("data page at byte %d declares %d bytes of levels in %d", start+pos, h.levelBytes, c)
			}
		case dictionaryPage:
			if !h.hasDict {
				return fmt.Errorf("dictionary page at byte %d has no dictionary page header", start+pos)
			}
		case indexPage:
		default:
			return fmt.Errorf("unknown page type %d at byte %d", h.typ, start+pos)
		}
		if h.numValues < 0 {
			return fmt.Errorf("page at byte %d declares %d values", start+pos, h.numValues)
		}
		if h.typ == dataPage || h.typ == dataPageV2 {
			values += int64(h.numValues)
		}
		pos += c
	}
	if values != numValues {
		return fmt.Errorf("the pages hold %d values, the column chunk says %d", values, numValues)
	}
	return nil
}

// readPageHeader decodes the Thrift compact PageHeader at pos, reading at
// most max bytes, and returns it with its length.
func readPageHeader(r *io.SectionReader, pos, max int64) (pageHeader, int64, error) {
	window := min(max, 64<<10)
	for {
		buf := make([]byte, window)
		if _, err := r.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return pageHeader{}, 0, err
		}
		mb := &thrift.TMemoryBuffer{Buffer: bytes.NewBuffer(buf)}
		h, err := decodePageHeader(thrift.NewTCompactProtocolConf(mb, &thrift.TConfiguration{MaxMessageSize: maxPageHeader}))
		if err == nil {
			return h, window - int64(mb.Len()), nil
		}
		if window >= max || window >= maxPageHeader {
			return pageHeader{}, 0, fmt.Errorf("unreadable: %v", err)
		}
		window = min(max, window*4, maxPageHeader)
	}
}

func decodePageHeader(p thrift.TProtocol) (h pageHeader, err error) {
	ctx := context.Background()
	var seen [9]bool
	err = readStruct(ctx, p, func(id int16, t thrift.TType) error {
		if id > 0 && int(id) < len(seen) {
			seen[id] = true
		}
		switch {
		case id == 1 && t == thrift.I32:
			h.typ, err = p.ReadI32(ctx)
		case id == 2 && t == thrift.I32:
			h.uncompressed, err = p.ReadI32(ctx)
		case id == 3 && t == thrift.I32:
			h.compressed, err = p.ReadI32(ctx)
		case (id == 5 || id == 7 || id == 8) && t == thrift.STRUCT:
			switch id {
			case 5:
				h.hasData = true
			case 7:
				h.hasDict = true
			case 8:
				h.hasV2 = true
			}
			return readStruct(ctx, p, func(sid int16, st thrift.TType) error {
				var err error
				switch {
				case sid == 1 && st == thrift.I32:
					h.numValues, err = p.ReadI32(ctx)
				case id == 8 && (sid == 5 || sid == 6) && st == thrift.I32:
					var n int32
					n, err = p.ReadI32(ctx)
					h.levelBytes += int64(n)
				default:
					err = p.Skip(ctx, st)
				}
				return err
			})
		default:
			err = p.Skip(ctx, t)
		}
		return err
	})
	if err == nil && !(seen[1] && seen[2] && seen[3]) {
		err = errors.New("a required field is missing")
	}
	return h, err
}

func readStruct(ctx context.Context, p thrift.TProtocol, field func(id int16, t thrift.TType) error) error {
	if _, err := p.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, t, id, err := p.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if t == thrift.STOP {
			break
		}
		if err := field(id, t); err != nil {
			return err
		}
		if err := p.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	return p.ReadStructEnd(ctx)
}
