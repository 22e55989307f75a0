//go:build !boulder20260309

package boulderdiff

// This build runs go.mod's Boulder, v0.20261110.0, the newest release the
// module proxy serves: its batch rule prefers a denial (boulder PR 8674),
// so it is compared on orders from the letsencrypt policy's cut-over on.
// era20260309.mod, with the tag boulder20260309, runs the era before.
var era = eraSpec{name: "current rule, Boulder v0.20261110.0", denialFirst: true}
