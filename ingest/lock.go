package ingest

// Lock takes an exclusive advisory lock on path, as each ingest does on its
// log's state; ctlimits run uses it to keep nightly runs from overlapping.
// The lock dies with the process. unlock releases it.
func Lock(path string) (unlock func(), err error) { return lockFile(path) }
