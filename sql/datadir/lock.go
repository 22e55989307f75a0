package datadir

import "errors"

// ErrLocked is returned by Lock when another process holds the lock.
var ErrLocked = errors.New("locked by another ctlimits process")

// Lock takes an exclusive advisory lock on the file at path, creating it
// if needed; unlock releases it. The lock dies with the process (kill -9
// included). A path that is a symbolic link is refused: a lock file is
// opened and written by cron jobs running as root, which must never be
// tricked into writing through a link to another file.
func Lock(path string) (unlock func(), err error) { return lockFile(path) }

// Lock takes one of the directory's locks (RunLock, DecisionsLock).
func (d *Dir) Lock(name string) (unlock func(), err error) { return lockFile(d.Path(name)) }
