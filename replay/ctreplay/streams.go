package ctreplay

import (
	"github.com/ctlimits/ctlimits/replay"
	"github.com/ctlimits/ctlimits/replay/ctstream"
)

// Stream is one independent replay of CT history: a set of issuers under
// one policy (ctstream.Stream; chosen there, in pure Go, so the sharded
// worker built without cgo chooses the same streams).
type Stream = ctstream.Stream

// IssuerSets are the values of --issuers besides a regular expression.
var IssuerSets = ctstream.IssuerSets

// Streams turns an --issuers value and the chosen policy into the streams
// to replay (ctstream.Streams).
func Streams(issuers string, main *replay.Policy, explicit bool) ([]Stream, error) {
	return ctstream.Streams(issuers, main, explicit)
}
