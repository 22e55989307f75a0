package main

// ctgen -entries DATA writes a Let's Encrypt-shaped history straight into
// DATA's entries Parquet files, in the schema and layout `ctlimits ingest`
// writes (ingest.EntriesWriter): no certificates are encoded and no tiles
// written, so a hundred million certificates fit the disk and the time of
// a small machine. -append grows the same log by more days.
//
// The population, in steady state from the first day: a site (an exact
// set of names, ctgen's heavy-tailed shape; see siteNames) is issued a
// certificate when it is born and renewed every 60 days or so (±5) while
// it lives; after each certificate it goes on with probability 2/3, so a
// site has 3 certificates on average and 2/3 of all certificates are
// renewals. New sites are born at a third of the daily rate; the sites
// alive on the first day (born before it) renew during the first renewal
// period, each at a uniform instant of it, and their previous certificate
// is in the log too, before the first day (the lead-in), so that a replay
// sees their renewals as renewals. Hosting domains onboard a burst of new
// sites now and then (-hosting per 30 days, 400 sites in two days each).
//
// Everything is a function of the seed and of the certificate's site and
// instant, and the plan is simulated day by day: the sites alive are kept
// in a calendar of their next renewal (8 bytes each), nothing else grows
// with the history. -append replays the simulation from the first day
// without writing (a few seconds for 100M certificates) and then writes
// the new days, so appending day after day gives the same files as
// writing all the days at once.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/ctlimits/ctlimits/ingest"
	"github.com/ctlimits/ctlimits/sql/datadir"
)

const (
	dayMs = int64(24 * time.Hour / time.Millisecond)
	// Renewal every renewMs ± jitterMs; after each certificate a site
	// goes on with probability keep.
	renewMs  = 60 * dayMs
	jitterMs = 5 * dayMs
	keep     = 2.0 / 3
	// finalShare of certificates have their final certificate logged
	// too, 0.5 to 3.5 s after the precertificate.
	finalShare = 0.9
	// burstSites sites onboard in burstMs in each hosting burst.
	burstSites = 400
	burstMs    = 2 * dayMs
	// leadDays: lead-in certificates are at most this many days before
	// the first day (a period of renewMs + jitterMs).
	leadDays = int((renewMs+jitterMs)/dayMs + 1)
	// ring: days of calendar kept ahead (more than the longest period).
	ring = 128
	// A calendar entry packs the instant in its day (ms, 27 bits) above
	// the site (37 bits), so sorting entries sorts by time.
	siteBits = 37
	siteMask = 1<<siteBits - 1
	// burstBit marks the sites of hosting bursts.
	burstBit = 1 << 36
	// stateName is ctgen's state file in DATA, also the mark that DATA
	// holds a generated history.
	stateName = "ctgen.json"
	// defaultFileEntries is the most entries one file covers (ingest's
	// default); files are also cut at the end of each day.
	defaultFileEntries = 262144
)

// History is what fixes a generated history: the same History gives the
// same rows.
type History struct {
	Seed    uint64
	LogID   [32]byte
	Start   time.Time // the first day, midnight UTC
	PerDay  float64   // certificates a day (about)
	Hosting int       // hosting bursts per 30 days
}

// entriesState is DATA/ctgen.json.
type entriesState struct {
	Format  int     `json:"format"`
	Seed    uint64  `json:"seed"`
	LogID   string  `json:"log_id"` // standard base64, as in the log column
	Start   string  `json:"start"`  // the first day, YYYY-MM-DD
	PerDay  float64 `json:"per_day"`
	Hosting int     `json:"hosting"`
	// Days have been written after Start; entries [0, NextIndex) are in
	// DATA/entries/log=<id>/.
	Days      int   `json:"days"`
	NextIndex int64 `json:"next_index"`
	// Certificates in the log, LeadIn of them before Start.
	Certificates int64     `json:"certificates"`
	LeadIn       int64     `json:"lead_in_certificates"`
	FileEntries  int64     `json:"file_entries"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func (s *entriesState) history() (History, error) {
	h := History{Seed: s.Seed, PerDay: s.PerDay, Hosting: s.Hosting}
	id, err := parseLogID(s.LogID)
	if err != nil {
		return h, err
	}
	h.LogID = id
	if h.Start, err = time.Parse("2006-01-02", s.Start); err != nil {
		return h, fmt.Errorf("start %q: %w", s.Start, err)
	}
	if !(s.PerDay > 0) || s.Hosting < 0 || s.Days < 0 || s.NextIndex < 0 || s.FileEntries <= 0 {
		return h, errors.New("a field is out of range")
	}
	return h, nil
}

// parseLogID takes a log ID in standard or URL-safe base64, padded or not.
func parseLogID(s string) ([32]byte, error) {
	var id [32]byte
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			copy(id[:], b)
			return id, nil
		}
	}
	return id, fmt.Errorf("log ID %q: want 32 bytes in base64 (a SHA-256, as in the log list)", s)
}

// defaultLogID is the log ID of a seed's history when -log-id is not given.
func defaultLogID(seed uint64) [32]byte {
	return sha256.Sum256([]byte("ctgen log, seed " + strconv.FormatUint(seed, 10)))
}

// EntriesOptions are the flags of `ctgen -entries`.
type EntriesOptions struct {
	Data string
	// A new history: Certs over Days from Start.
	Certs int64
	Days  int
	History
	// Append, when positive, grows the history in Data by that many days
	// instead (the other fields come from its state file).
	Append int
	// FileEntries caps the entries of a file (default 262144).
	FileEntries int64
	// Workers encode files in parallel (default GOMAXPROCS).
	Workers int
}

// EntriesSummary is what a run wrote.
type EntriesSummary struct {
	Days                  int   // days written in this run
	Certificates, Entries int64 // written in this run
	LeadIn                int64 // of Certificates, before the first day
	Files                 int
	Bytes                 int64
	State                 entriesState // after the run
}

// WriteEntries writes a new history into o.Data, or appends o.Append days
// to the one there.
func WriteEntries(o EntriesOptions) (*EntriesSummary, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	spath := filepath.Join(o.Data, stateName)
	var st entriesState
	var h History
	from := 0
	if o.Append > 0 {
		b, err := os.ReadFile(spath)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("-append: %s has no %s: it holds no history ctgen wrote (write one first with -entries %s -certs N -days D)", o.Data, stateName, o.Data)
		}
		if err != nil {
			return nil, fmt.Errorf("couldn't read ctgen state: %w", err)
		}
		if err := json.Unmarshal(b, &st); err != nil {
			return nil, fmt.Errorf("couldn't parse %s: %w", spath, err)
		}
		if st.Format != 1 {
			return nil, fmt.Errorf("%s has format %d, this ctgen reads format 1", spath, st.Format)
		}
		if h, err = st.history(); err != nil {
			return nil, fmt.Errorf("%s: %w", spath, err)
		}
		from = st.Days
		o.FileEntries = st.FileEntries
	} else {
		if o.Certs <= 0 || o.Days <= 0 {
			return nil, errors.New("-entries: want -certs N and -days D, both positive (or -append DAYS to grow a history)")
		}
		if o.Hosting < 0 {
			return nil, fmt.Errorf("-hosting %d: want 0 or more", o.Hosting)
		}
		h = o.History
		h.Start = h.Start.UTC().Truncate(24 * time.Hour)
		h.PerDay = float64(o.Certs) / float64(o.Days)
		if o.FileEntries <= 0 {
			o.FileEntries = defaultFileEntries
		}
		st = entriesState{Format: 1, Seed: h.Seed, LogID: base64.StdEncoding.EncodeToString(h.LogID[:]),
			Start: h.Start.Format("2006-01-02"), PerDay: h.PerDay, Hosting: h.Hosting, FileEntries: o.FileEntries}
	}
	days := o.Days
	if o.Append > 0 {
		days = o.Append
	}
	dir := filepath.Join(o.Data, "entries", "log="+base64.RawURLEncoding.EncodeToString(h.LogID[:]))
	if err := prepareEntriesDir(o.Data, dir, &st, o.Append > 0); err != nil {
		return nil, err
	}
	g := newPlan(h)
	w := &entriesWriter{dir: dir, logID: st.LogID, plan: g, work: make(chan chunk, o.Workers), fileEntries: o.FileEntries}
	w.start(o.Workers)
	sum := &EntriesSummary{Days: days}
	var idx, certs, lead int64
	writeFrom := from // an append writes its new days
	if o.Append == 0 {
		writeFrom = -leadDays // a new history its lead-in too
	}
	err := g.run(from+days, func(d int, day []uint64, finals int) error {
		n := int64(len(day))
		if d < writeFrom {
			idx += n + int64(finals)
			certs += n
			if d < 0 {
				lead += n
			}
			return nil
		}
		if d == from && o.Append > 0 && idx != st.NextIndex {
			return fmt.Errorf("%s says entries [0, %d) were written, but the plan has %d entries before day %d: was it written by another version of ctgen?", spath, st.NextIndex, idx, from)
		}
		if err := w.day(d, day, idx, certs); err != nil {
			return err
		}
		idx += n + int64(finals)
		certs += n
		sum.Certificates += n
		sum.Entries += n + int64(finals)
		if d < 0 {
			lead += n
			sum.LeadIn += n
		}
		return nil
	})
	files, bytes, werr := w.close()
	if err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	sum.Files, sum.Bytes = files, bytes
	st.Days = from + days
	st.NextIndex = idx
	st.Certificates = certs
	st.LeadIn = lead
	st.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	if err := writeJSONAtomic(spath, &st); err != nil {
		return nil, err
	}
	sum.State = st
	return sum, nil
}

var entriesFileRE = regexp.MustCompile(`^(\d+)-(\d+)\.parquet$`)

// prepareEntriesDir checks that DATA can take the run: for a new history,
// no state and no entries of this log yet; for an append, the files the
// state lists and nothing else (files past it, left by a run that failed
// before writing the state, are removed: they are written again).
func prepareEntriesDir(data, dir string, st *entriesState, appending bool) error {
	if !appending {
		if _, err := os.Stat(filepath.Join(data, stateName)); err == nil {
			return fmt.Errorf("%s already holds a generated history (%s): grow it with -append DAYS, or remove %s to start over", data, stateName, data)
		}
		if des, _ := os.ReadDir(dir); len(des) > 0 {
			return fmt.Errorf("%s already holds entries of log %s: remove %s (or give another -log-id)", data, st.LogID, dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("couldn't create %s: %w", dir, err)
		}
		return nil
	}
	des, err := os.ReadDir(dir)
	if err != nil && !(errors.Is(err, os.ErrNotExist) && st.NextIndex == 0) {
		return fmt.Errorf("couldn't read the entries of the generated log: %w", err)
	}
	var last int64 = -1
	for _, de := range des {
		m := entriesFileRE.FindStringSubmatch(de.Name())
		if m == nil {
			if filepath.Ext(de.Name()) == ".tmp" {
				os.Remove(filepath.Join(dir, de.Name())) // an unfinished file of a failed run
			}
			continue
		}
		first, _ := strconv.ParseInt(m[1], 10, 64)
		end, _ := strconv.ParseInt(m[2], 10, 64)
		if first >= st.NextIndex {
			if err := os.Remove(filepath.Join(dir, de.Name())); err != nil {
				return fmt.Errorf("couldn't remove %s, left by a failed run: %w", de.Name(), err)
			}
			continue
		}
		last = max(last, end)
	}
	if last+1 != st.NextIndex {
		return fmt.Errorf("%s/%s says entries [0, %d) were written, but the files in %s end at %d: remove %s and write the history again", data, stateName, st.NextIndex, dir, last+1, data)
	}
	return os.MkdirAll(dir, 0o755)
}

// writeJSONAtomic replaces path with v as JSON, durably.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return datadir.WriteFile(path, append(b, '\n'))
}

// plan simulates the population day by day.
type plan struct {
	h        History
	startMs  int64
	oldSites uint64 // alive on the first day: ids [0, oldSites)
	newRate  float64
	domains  uint64
	sites    uint64 // the population's scale, for names of other sites
	calendar [ring][]uint64
}

func newPlan(h History) *plan {
	g := &plan{h: h, startMs: h.Start.UnixMilli()}
	// In steady state renewals are the births' later certificates:
	// a rate of R a day is R/3 births and 2R/3 renewals, and the sites
	// alive renew 2R/3 a day over a period: 2R/3 * 60 of them.
	g.oldSites = uint64(math.Round(keep * h.PerDay * float64(renewMs/dayMs)))
	// Hosting bursts are births too: the other births make up the rest,
	// so that the rate stays PerDay.
	g.newRate = max(0, h.PerDay*(1-keep)-float64(h.Hosting*burstSites)/30)
	g.sites = max(1, 2*g.oldSites)
	g.domains = max(1, uint64(h.PerDay*30))
	return g
}

// hash mixes the seed and up to three values into 64 random bits.
func hash(seed, a, b, c uint64) uint64 {
	return splitmix(splitmix(splitmix(splitmix(seed)^a)^b) ^ c)
}

func unit(x uint64) float64 { return float64(x>>11) * (1.0 / (1 << 53)) }

// Salts of the hashes.
const (
	saltPhase = iota + 1
	saltLead
	saltBirth
	saltNext
	saltFinal
	saltNames
	saltBurst
)

func (g *plan) dayIndex(ms int64) int {
	d := ms - g.startMs
	if d < 0 {
		return -int((-d + dayMs - 1) / dayMs)
	}
	return int(d / dayMs)
}

func (g *plan) push(site uint64, ms int64) {
	d := g.dayIndex(ms)
	in := ms - (g.startMs + int64(d)*dayMs)
	slot := ((d % ring) + ring) % ring
	g.calendar[slot] = append(g.calendar[slot], uint64(in)<<siteBits|site)
}

// firstRenewal is when a site alive on the first day renews first.
func (g *plan) firstRenewal(site uint64) int64 {
	return g.startMs + int64(unit(hash(g.h.Seed, site, saltPhase, 0))*float64(renewMs))
}

func period(h uint64) int64 { return renewMs - jitterMs + int64(h%uint64(2*jitterMs+1)) }

// final says whether the certificate of site at ms has its final
// certificate logged too, and how long after the precertificate.
func (g *plan) final(site uint64, ms int64) (bool, int64) {
	x := hash(g.h.Seed, site, uint64(ms), saltFinal)
	return unit(x) < finalShare, 500 + int64(x>>40)%3000
}

// run simulates days [-leadDays, end) and calls f with each day's
// certificates (packed calendar entries, in time order) and how many of
// them have a final entry. day is reused after f returns.
func (g *plan) run(end int, f func(d int, day []uint64, finals int) error) error {
	for s := uint64(0); s < g.oldSites; s++ {
		g.push(s, g.firstRenewal(s)-period(hash(g.h.Seed, s, saltLead, 0)))
	}
	// Hosting bursts: the h-th starts at a random instant of its slot of
	// 30/Hosting days.
	var slotMs int64
	if g.h.Hosting > 0 {
		slotMs = 30 * dayMs / int64(g.h.Hosting)
	}
	burstAt := func(b int64) int64 {
		return g.startMs + b*slotMs + int64(unit(hash(g.h.Seed, uint64(b), saltBurst, 0))*float64(slotMs))
	}
	var day []uint64
	for d := -leadDays; d < end; d++ {
		slot := ((d % ring) + ring) % ring
		day = append(day[:0], g.calendar[slot]...)
		g.calendar[slot] = nil
		dayStart := g.startMs + int64(d)*dayMs
		if d >= 0 {
			// Births: ids numbered in birth order after the old sites.
			lo := g.oldSites + uint64(float64(d)*g.newRate)
			hi := g.oldSites + uint64(float64(d+1)*g.newRate)
			for s := lo; s < hi; s++ {
				day = append(day, uint64(hash(g.h.Seed, s, saltBirth, 0)%uint64(dayMs))<<siteBits|s)
			}
			if slotMs > 0 {
				for b := max(0, (int64(d)*dayMs-burstMs)/slotMs-1); b*slotMs <= int64(d+1)*dayMs; b++ {
					at := burstAt(b)
					for k := int64(0); k < burstSites; k++ {
						ms := at + k*burstMs/burstSites
						if ms >= dayStart && ms < dayStart+dayMs {
							day = append(day, uint64(ms-dayStart)<<siteBits|burstBit|uint64(b*burstSites+k))
						}
					}
				}
			}
		}
		slices.Sort(day)
		finals := 0
		for _, e := range day {
			site, ms := e&siteMask, dayStart+int64(e>>siteBits)
			if ok, _ := g.final(site, ms); ok {
				finals++
			}
			switch {
			case d < 0: // a lead-in certificate: the site renews on its schedule
				g.push(site, g.firstRenewal(site))
			default:
				x := hash(g.h.Seed, site, uint64(ms), saltNext)
				if unit(x) < keep {
					g.push(site, ms+period(splitmix(x)))
				}
			}
		}
		if err := f(d, day, finals); err != nil {
			return err
		}
	}
	return nil
}

// chunk is one file's worth of a day's certificates.
type chunk struct {
	dayStart  int64
	certs     []uint64 // packed, as in the calendar
	firstIdx  int64
	firstCert int64
	lastIdx   int64
}

// entriesWriter encodes chunks into files on its workers.
type entriesWriter struct {
	dir, logID  string
	plan        *plan
	fileEntries int64
	work        chan chunk
	wg          sync.WaitGroup
	mu          sync.Mutex
	err         error
	files       int
	bytes       int64
}

func (w *entriesWriter) start(n int) {
	for range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			var e encoder
			for c := range w.work {
				if w.failed() != nil {
					continue // drain: the producer stops at its next chunk
				}
				n, err := e.write(w, c)
				w.mu.Lock()
				if err != nil && w.err == nil {
					w.err = err
				}
				if err == nil {
					w.files++
					w.bytes += n
				}
				w.mu.Unlock()
			}
		}()
	}
}

func (w *entriesWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// day cuts a day into files of at most fileEntries entries.
func (w *entriesWriter) day(d int, day []uint64, idx, cert int64) error {
	dayStart := w.plan.startMs + int64(d)*dayMs
	for len(day) > 0 {
		var n, entries int64
		for n < int64(len(day)) {
			e := day[n]
			k := int64(1)
			if ok, _ := w.plan.final(e&siteMask, dayStart+int64(e>>siteBits)); ok {
				k = 2
			}
			if entries+k > w.fileEntries && entries > 0 {
				break
			}
			entries += k
			n++
		}
		if err := w.failed(); err != nil {
			return err
		}
		w.work <- chunk{dayStart: dayStart, certs: slices.Clone(day[:n]), firstIdx: idx, firstCert: cert, lastIdx: idx + entries - 1}
		day = day[n:]
		idx += entries
		cert += n
	}
	return nil
}

func (w *entriesWriter) close() (int, int64, error) {
	close(w.work)
	w.wg.Wait()
	return w.files, w.bytes, w.err
}

// The issuers: Let's Encrypt's current intermediates, nine in twenty
// certificates each from R12 and R13, one each from E7 and E8 (as
// ctgen's logs). The key hashes are stand-ins, fixed so that output is
// reproducible.
var (
	issuerNames = [4]string{"CN=R12,O=Let's Encrypt,C=US", "CN=R13,O=Let's Encrypt,C=US", "CN=E7,O=Let's Encrypt,C=US", "CN=E8,O=Let's Encrypt,C=US"}
	issuerPick  = [20]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3}
	issuerKeys  = func() (k [4][32]byte) {
		for i, n := range issuerNames {
			k[i] = sha256.Sum256([]byte("ctgen issuer key " + n))
		}
		return k
	}()
)

// encoder turns certificates into rows; each worker has its own.
type encoder struct {
	buf    []byte
	ends   []int
	names  []string
	serial []byte
}

func (e *encoder) write(w *entriesWriter, c chunk) (int64, error) {
	fw, err := ingest.NewEntriesWriter(w.dir, w.logID)
	if err != nil {
		return 0, err
	}
	g := w.plan
	idx := c.firstIdx
	var row ingest.Row
	for i, p := range c.certs {
		site, ms := p&siteMask, c.dayStart+int64(p>>siteBits)
		pick := e.siteNames(g, site)
		cert := uint64(c.firstCert) + uint64(i)
		// 17 bytes like a CA's random serial; the first 8 a bijection of
		// the certificate's number, so serials never repeat.
		var sb [16]byte
		binary.BigEndian.PutUint64(sb[:], splitmix(cert^splitmix(g.h.Seed)))
		binary.BigEndian.PutUint64(sb[8:], splitmix(cert+0x5bd1e995))
		e.serial = hex.AppendEncode(append(e.serial[:0], "05"...), sb[:])
		nb := (ms - 3600_000) / 1000 * 1000 // backdated an hour, whole seconds
		row = ingest.Row{
			Issuer:        issuerNames[pick],
			IssuerKeyHash: issuerKeys[pick][:],
			Serial:        unsafe.String(&e.serial[0], len(e.serial)),
			NotBefore:     nb,
			NotAfter:      nb + 90*dayMs - 1000,
			DNSNames:      e.names,
			CommonName:    e.names[0],
		}
		final, delay := g.final(site, ms)
		for k := range 2 {
			if k == 1 && !final {
				break
			}
			row.Index = idx
			row.Precert = k == 0
			row.LoggedAt = ms
			if k == 1 {
				row.LoggedAt = ms + delay
			}
			x := splitmix(uint64(idx) ^ splitmix(g.h.Seed+1))
			for j := range 4 { // unique: the first 8 bytes a bijection of idx
				binary.BigEndian.PutUint64(row.LeafHash[8*j:], x)
				x = splitmix(x + uint64(j))
			}
			if err := fw.Add(&row); err != nil {
				fw.Abort()
				return 0, err
			}
			idx++
		}
	}
	if idx-1 != c.lastIdx {
		fw.Abort()
		return 0, fmt.Errorf("internal error: file of entries [%d, %d] got %d entries", c.firstIdx, c.lastIdx, idx-c.firstIdx)
	}
	return fw.Commit(w.dir, c.firstIdx, c.lastIdx)
}

// siteNames sets e.names to the names of site and returns its issuer
// (an index into issuerNames). The shape is ctgen's (see names): names
// under a heavy-tailed registered domain (skew 3: 10% of sites on 0.1%
// of domains), most sites one or two names, a few dozens up to 100; a
// third carry their domain's apex, 3% also a site of another domain.
// Hosting-burst sites are customerK.hostH.example.
func (e *encoder) siteNames(g *plan, site uint64) int {
	r := rng{hash(g.h.Seed, site, saltNames, 0)}
	b := e.buf[:0]
	ends := e.ends[:0]
	if site&burstBit != 0 {
		k := site &^ burstBit
		b = append(b, "customer"...)
		b = strconv.AppendUint(b, k%burstSites, 10)
		b = append(b, ".host"...)
		b = strconv.AppendUint(b, k/burstSites, 10)
		b = append(b, ".example"...)
		ends = append(ends, len(b))
	} else {
		d := uint64(float64(g.domains) * math.Pow(r.float(), 3))
		b = appendSiteName(b, site, d)
		first := len(b)
		ends = append(ends, first)
		b = append(b, "www."...)
		b = append(b, b[:first]...)
		ends = append(ends, len(b))
		if r.next()%3 == 0 {
			b = appendDomain(b, d)
			ends = append(ends, len(b))
		}
		more := 0.35
		if r.float() < 0.002 {
			more = 0.97
		}
		for len(ends) < 100 && r.float() < more {
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(len(ends)), 10)
			b = append(b, '.')
			b = append(b, b[:first]...)
			ends = append(ends, len(b))
		}
		if r.float() < 0.5 && len(ends) == 2 {
			ends = ends[:1]
			b = b[:first]
		}
		if r.float() < 0.03 {
			b = appendSiteName(b, r.next()%g.sites, r.next()%g.domains)
			ends = append(ends, len(b))
		}
	}
	e.buf, e.ends = b, ends
	// Strings over e.buf: the entries writer copies them before e.buf is
	// written again.
	e.names = e.names[:0]
	start := 0
	for _, end := range ends {
		e.names = append(e.names, unsafe.String(&b[start], end-start))
		start = end
	}
	return int(issuerPick[r.next()%100%20])
}

func appendDomain(b []byte, d uint64) []byte {
	b = append(b, 'd')
	b = strconv.AppendUint(b, d, 10)
	b = append(b, '.')
	return append(b, tlds[d%uint64(len(tlds))]...)
}

func appendSiteName(b []byte, site, d uint64) []byte {
	b = append(b, 's')
	b = strconv.AppendUint(b, site, 10)
	b = append(b, '.')
	return appendDomain(b, d)
}

// rng is SplitMix64 as a stream.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return splitmix(r.s)
}

func (r *rng) float() float64 { return unit(r.next()) }

// printEntriesSummary reports a run and how to use its output.
func printEntriesSummary(out io.Writer, data string, s *EntriesSummary, took time.Duration) {
	st := s.State
	fmt.Fprintf(out, "wrote %d certificates (%d entries", s.Certificates, s.Entries)
	if s.LeadIn > 0 {
		fmt.Fprintf(out, "; %d of the certificates before %s, the previous certificates of the sites renewing first", s.LeadIn, st.Start)
	}
	fmt.Fprintf(out, ") in %d files, %.1f MB, in %s (%.0f certificates/s)\n", s.Files, float64(s.Bytes)/1e6, took.Round(time.Millisecond), float64(s.Certificates)/took.Seconds())
	last := mustDate(st.Start).AddDate(0, 0, st.Days-1)
	fmt.Fprintf(out, "%s holds %d certificates, %d entries of log %s, up to %s; grow it with: ctgen -entries %s -append 1\n",
		data, st.Certificates, st.NextIndex, st.LogID, last.Format("2006-01-02"), data)
	fmt.Fprintf(out, "ctlimits replay --data %s --since %s\n", data, last.Format("2006-01-02"))
}

func mustDate(s string) time.Time {
	t, _ := time.Parse("2006-01-02", s)
	return t
}
