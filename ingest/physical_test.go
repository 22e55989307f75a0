package ingest

import (
	"crypto/x509"
	"testing"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The physical limits of ingest on this machine, one entry at a time and
// one core: what no ingest of a real log can beat per entry. See
// docs/benchmarks.md.

// BenchmarkPhysicalLeafHash is the RFC 6962 leaf hash (SHA-256) of one
// real-sized MerkleTreeLeaf from the sample log.
func BenchmarkPhysicalLeafHash(b *testing.B) {
	l := mustSample(b)
	leaf := l.Entries[1].LeafInput
	b.SetBytes(int64(len(leaf)))
	for b.Loop() {
		rfc6962.DefaultHasher.HashLeaf(leaf)
	}
}

// BenchmarkPhysicalParseCertificate parses one certificate with the
// standard library, as ingest does first.
func BenchmarkPhysicalParseCertificate(b *testing.B) {
	l := mustSample(b)
	var leaf ct.MerkleTreeLeaf
	var der []byte
	for _, e := range l.Entries {
		if _, err := tls.Unmarshal(e.LeafInput, &leaf); err != nil {
			b.Fatal(err)
		}
		if leaf.TimestampedEntry.EntryType == ct.X509LogEntryType {
			der = leaf.TimestampedEntry.X509Entry.Data
			break
		}
	}
	if der == nil {
		b.Fatal("no x509 entry in the sample log")
	}
	b.SetBytes(int64(len(der)))
	for b.Loop() {
		if _, err := x509.ParseCertificate(der); err != nil {
			b.Fatal(err)
		}
	}
}
