package boulderdiff

import (
	_ "github.com/ctlimits/ctlimits/replay"
	_ "github.com/jmhodges/clock"
	_ "github.com/letsencrypt/boulder/core"
	_ "github.com/letsencrypt/boulder/errors"
	_ "github.com/letsencrypt/boulder/identifier"
	_ "github.com/letsencrypt/boulder/policy"
	_ "github.com/letsencrypt/boulder/ratelimits"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/weppos/publicsuffix-go/publicsuffix"
	_ "github.com/letsencrypt/boulder/log"
)
