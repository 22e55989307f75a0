//go:build unix

package datadir

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

func lockFile(path string) (unlock func(), err error) {
	// O_NOFOLLOW: open fails with ELOOP when the last element is a link.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o666)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("couldn't open lock %s: it is a symbolic link; remove it (ctlimits never follows links for lock files)", path)
	}
	if err != nil {
		return nil, fmt.Errorf("couldn't open lock %s: %w", path, explain(err))
	}
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("couldn't use lock %s: not a regular file; remove it", path)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (lock %s is held)", ErrLocked, path)
		}
		return nil, fmt.Errorf("couldn't lock %s: %w", path, err)
	}
	// The holder's pid, for an operator looking at a held lock.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
