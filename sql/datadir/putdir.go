package datadir

import (
	"fmt"
	"os"
	"path/filepath"
)

// PutDir puts a directory written in full beside final (a hidden
// temporary one, in the same parent) at final, replacing what was there:
// its files are synced, then it is renamed into place; an older final is
// first renamed away (hidden, so a crash in between leaves it for the
// next SweepTemp) and then removed. Readers see the old directory or the
// new one, or for an instant none, never a part of either.
func PutDir(tmp, final string) error {
	if err := syncTree(tmp); err != nil {
		return err
	}
	parent := filepath.Dir(final)
	old := filepath.Join(parent, "."+filepath.Base(final)+".old.tmp")
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("couldn't remove the leftover %s: %w", old, explain(err))
	}
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("couldn't replace %s: %w", final, explain(err))
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("couldn't put %s in place: %w", final, explain(err))
	}
	if err := SyncDir(parent); err != nil {
		return err
	}
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("couldn't remove the replaced %s: %w", old, explain(err))
	}
	return nil
}
