//go:build boulder20260309

package boulderdiff

// This build runs Boulder v0.20260309.0 (era20260309.mod: go test
// -modfile=era20260309.mod -tags boulder20260309), the last release before
// boulder PR 8674, whose batch rule lets an allowed check with a longer
// retryIn mask a denial; it is compared on orders before the letsencrypt
// policy's cut-over.
var era = eraSpec{name: "rule before PR 8674, Boulder v0.20260309.0", denialFirst: false}
