//go:build !unix

package datadir

func isNoSpace(error) bool { return false }
