// Package orderio reads planned or historical orders from files (JSON
// lines, CSV, Parquet) and writes replay decisions (table, JSON lines, CSV,
// Parquet). It is the I/O edge around the pure replay model; the formats
// are documented in docs/formats.md.
package orderio
