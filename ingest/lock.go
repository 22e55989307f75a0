package ingest

import "github.com/ctlimits/ctlimits/sql/datadir"

// Lock takes an exclusive advisory lock on path, as each ingest does on its
// log's state (sql/datadir owns the locking: no symbolic links, dies with
// the process). unlock releases it.
func Lock(path string) (unlock func(), err error) { return datadir.Lock(path) }
