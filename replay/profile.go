package replay

import (
	"fmt"
	"strings"
	"time"
)

// Certificate profiles. Let's Encrypt issues under named profiles, each
// with its own lifetime and names cap (Boulder: the CA's certProfiles set
// maxValidityPeriod, the RA's validationProfiles set maxNames, and
// RA.NewOrder refuses an order with more identifiers than its profile's
// maxNames). An order that names no profile gets the default, classic.
//
// CT does not show the profile a certificate was ordered under; its
// lifetime and names do, through InferProfile (docs/semantics.md,
// "Profiles").

// Profile is a certificate profile, or what is known of one.
type Profile uint8

const (
	// NoProfile: the order named none (Order.Profile only); Prepare
	// resolves it.
	NoProfile Profile = iota
	// Classic is the default profile: 90 days, then 64 days from
	// 2027-02-10 and 45 days from 2028-02-16; up to 100 names.
	Classic
	// TLSServer: 45 days, up to 25 names.
	TLSServer
	// ShortLived: 160 hours, up to 25 names.
	ShortLived
	// UnknownProfile: a certificate whose lifetime and names fit no
	// profile at its NotBefore (another CA's, or a lifetime Let's Encrypt
	// does not issue then). Capped at 100 names, the most any Boulder
	// profile may allow.
	UnknownProfile
)

// ProfileNames are the profiles an order may name.
var ProfileNames = []string{"classic", "tlsserver", "shortlived"}

func (p Profile) String() string {
	switch p {
	case Classic:
		return "classic"
	case TLSServer:
		return "tlsserver"
	case ShortLived:
		return "shortlived"
	case UnknownProfile:
		return "unknown"
	}
	return ""
}

// ParseProfile reads a profile an order names: classic, tlsserver or
// shortlived (case and surrounding space ignored); "" is NoProfile.
func ParseProfile(s string) (Profile, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return NoProfile, nil
	case "classic":
		return Classic, nil
	case "tlsserver":
		return TLSServer, nil
	case "shortlived":
		return ShortLived, nil
	}
	return NoProfile, fmt.Errorf("unknown profile %q; Let's Encrypt's profiles are %s", s, strings.Join(ProfileNames, ", "))
}

// MaxNames is the most names (after normalization: deduplicated) an order
// under p may carry. Boulder's RA refuses more ("Order cannot contain more
// than N identifiers"); 100 is the ceiling its configuration allows any
// profile, which applies to unknown ones.
func (p Profile) MaxNames() int {
	switch p {
	case TLSServer, ShortLived:
		return 25
	}
	return 100
}

// The dates Let's Encrypt shortens the classic profile's lifetime.
var (
	Classic64From = time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC)
	Classic45From = time.Date(2028, 2, 16, 0, 0, 0, 0, time.UTC)
)

const day = 24 * time.Hour

// Lifetime is the validity a certificate issued under p at instant at
// gets: Boulder's maxValidityPeriod, the span from NotBefore to NotAfter
// inclusive of its last second (NotAfter = NotBefore + Lifetime - 1s).
// Zero for NoProfile and UnknownProfile.
func (p Profile) Lifetime(at time.Time) time.Duration {
	switch p {
	case Classic:
		switch {
		case at.Before(Classic64From):
			return 90 * day
		case at.Before(Classic45From):
			return 64 * day
		}
		return 45 * day
	case TLSServer:
		return 45 * day
	case ShortLived:
		return 160 * time.Hour
	}
	return 0
}

// lifetimeSlack is how far a certificate's lifetime may be from a
// profile's and still be taken as that profile's: Boulder's are exact to
// the second, so this only forgives generators and other tools that omit
// the inclusive last second or round to the minute.
const lifetimeSlack = time.Hour

// Validity is a certificate's lifetime as Boulder counts it: NotAfter -
// NotBefore plus the inclusive last second (Unix ns in, duration out).
func Validity(notBefore, notAfter int64) time.Duration {
	return time.Duration(notAfter - notBefore + int64(time.Second))
}

// InferProfile names the profile a certificate was most likely issued
// under: the first of classic, tlsserver, shortlived whose lifetime at the
// certificate's NotBefore is within an hour of the certificate's and whose
// names cap admits its names. Classic comes first because it is the
// default: from 2028-02-16 a 45-day certificate of 25 names or fewer fits
// classic and tlsserver alike, and is labelled classic. A certificate that
// fits none is UnknownProfile. Times are Unix ns.
func InferProfile(notBefore, notAfter int64, names int) Profile {
	v := Validity(notBefore, notAfter)
	at := time.Unix(0, notBefore).UTC()
	for _, p := range [...]Profile{Classic, TLSServer, ShortLived} {
		d := v - p.Lifetime(at)
		if d >= -lifetimeSlack && d <= lifetimeSlack && names <= p.MaxNames() {
			return p
		}
	}
	return UnknownProfile
}

// ProfileForLifetime is the profile a client must ask for to get
// certificates of lifetime l at instant at: the first of classic,
// tlsserver, shortlived with that lifetime then (within an hour), or
// UnknownProfile. Unlike InferProfile it ignores the names, so that an
// order with too many for the profile is refused rather than relabelled.
func ProfileForLifetime(l time.Duration, at time.Time) Profile {
	for _, p := range [...]Profile{Classic, TLSServer, ShortLived} {
		d := l - p.Lifetime(at)
		if d >= -lifetimeSlack && d <= lifetimeSlack {
			return p
		}
	}
	return UnknownProfile
}

// resolveProfile settles a prepared order's profile: the one it names;
// else, with a NotAfter, the one its lifetime and names imply; else
// classic, the profile Boulder gives an order that names none.
func resolveProfile(named Profile, p *Prepared) Profile {
	switch {
	case named != NoProfile:
		return named
	case p.NotAfter != 0:
		return InferProfile(p.NotBefore, p.NotAfter, len(p.Names))
	}
	return Classic
}
