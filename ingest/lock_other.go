//go:build !unix

package ingest

import (
	"errors"
	"fmt"
	"os"
)

// lockFile on systems without flock creates the lock file exclusively. A
// crash leaves it behind; the error says to remove it. An exclusive create
// never follows a symbolic link.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%w (remove %s if no ingest is running)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't create lock %s: %w", path, err)
	}
	f.Close()
	return func() { os.Remove(path) }, nil
}
