package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/ctlimits/ctlimits/replay"
)

// causes fills LimitedOrder.Causes. CT shows each of these certificates
// was issued, so something the model cannot see let it through:
//   - an override, most likely for a domain limited again and again;
//   - ARI: a replacement inside the renewal window skips every check, and
//     a renewal of the exact set is the likeliest replacement;
//   - concurrent orders or timing: Boulder checks at new-order and spends
//     at issuance, so orders racing each other overshoot, and log
//     timestamps trail the real order by seconds to minutes; a retry-after
//     only minutes away fits either.
//
// The one query counts how often each CertificatesPerDomain bucket limited
// an order; likelyCauses weighs the rest.
func (b *builder) causes() error {
	times := map[string]int64{}
	var keys []string
	for _, o := range b.r.Limited.Orders {
		for _, bk := range o.LimitedBy {
			if strings.HasPrefix(bk, cpdPrefix) {
				if _, ok := times[bk]; !ok {
					keys = append(keys, bk)
					times[bk] = 0
				}
			}
		}
	}
	if len(keys) > 0 {
		counts, err := queryRows(b.ctx, b.db, dec+`SELECT b, count(*) FROM (SELECT unnest(limited_by) AS b FROM d WHERE decision = 'limited')
		  WHERE b IN (SELECT unnest(`+sqlList(keys)+`)) GROUP BY b`, nil, (*keyCount).fields)
		if err != nil {
			return err
		}
		for _, c := range counts {
			times[c.key] = c.n
		}
	}
	for i := range b.r.Limited.Orders {
		o := &b.r.Limited.Orders[i]
		if o.Planned {
			// Not issued yet: nothing to explain.
			o.Causes = []string{}
			continue
		}
		o.Causes = likelyCauses(o, times)
	}
	return nil
}

// likelyCauses are the reasons o may have issued anyway, most likely
// first; times counts the limited orders of each CertificatesPerDomain
// bucket.
func likelyCauses(o *LimitedOrder, times map[string]int64) []string {
	var causes []string
	repeated := ""
	for _, bk := range o.LimitedBy {
		if times[bk] > 1 {
			repeated = strings.TrimPrefix(bk, cpdPrefix)
			break
		}
	}
	soon := !o.RetryAfter.IsZero() && o.RetryAfter.Sub(o.IssuedAt) <= 10*time.Minute
	if soon {
		causes = append(causes, "concurrent orders or log-timestamp skew (retry-after only minutes away)")
	}
	if repeated != "" {
		causes = append(causes, fmt.Sprintf("an override for %s (limited %d times)", repeated, times[cpdPrefix+repeated]))
	}
	if o.Renewal {
		causes = append(causes, "ARI (a renewal of the same exact set; ARI replacements skip every check)")
	}
	if len(causes) == 0 {
		if contains(o.Limits, replay.CertificatesPerDomain.String()) {
			causes = append(causes, "an override", "ARI", "concurrent orders")
		} else {
			causes = append(causes, "an exact-set override", "ARI", "concurrent orders")
		}
	}
	return causes
}
