package nightly

import (
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/ctlimits/ctlimits/sql/datadir"
)

// WriteMetrics writes the run's metrics in the Prometheus text format for
// node_exporter's textfile collector, atomically and readable by other
// users (the umask applies), as the collector runs as another user. Every
// metric is written whatever the status: a failed log shows as
// ctlimits_log_ok 0, never as a missing series.
func WriteMetrics(path string, r *Record) error {
	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	gauge("ctlimits_run_status", "Exit status of the last run: 0 OK, 1 WARN, 2 CRIT, 3 UNKNOWN.").WithLabelValues().Set(float64(r.ExitCode))
	gauge("ctlimits_run_timestamp_seconds", "When the last run started.").WithLabelValues().Set(float64(r.Time.Unix()))
	if r.Newest != nil {
		gauge("ctlimits_newest_certificate_timestamp_seconds", "Issue time of the newest certificate in the data.").WithLabelValues().Set(float64(r.Newest.Unix()))
	}
	if len(r.Logs) > 0 {
		size := gauge("ctlimits_log_tree_size", "Verified tree size of each followed log.", "log")
		ok := gauge("ctlimits_log_ok", "1 if the log was ingested without error in the last run.", "log")
		for _, l := range r.Logs {
			size.WithLabelValues(l.Log).Set(float64(l.TreeSize))
			v := 0.0
			if l.Error == "" {
				v = 1
			}
			ok.WithLabelValues(l.Log).Set(v)
		}
	}
	if len(r.Decisions) > 0 {
		orders := gauge("ctlimits_orders", "Replayed orders by decision, per replay.", "policy", "issuers", "decision")
		for _, d := range r.Decisions {
			orders.WithLabelValues(d.Policy, d.Issuers, "new").Set(float64(d.New))
			orders.WithLabelValues(d.Policy, d.Issuers, "renewal").Set(float64(d.Renewal))
			orders.WithLabelValues(d.Policy, d.Issuers, "over_model").Set(float64(d.OverModel))
		}
	}
	if len(r.Watch) > 0 {
		tokens := gauge("ctlimits_domain_tokens", "CertificatesPerDomain tokens left for each watched domain at the newest certificate.", "domain")
		limited := gauge("ctlimits_domain_limited_since_last_run", "Orders of each watched domain the model limited since the last run.", "domain")
		status := gauge("ctlimits_domain_status", "Each watched domain's status: 0 OK, 1 WARN, 2 CRIT.", "domain")
		for _, w := range r.Watch {
			tokens.WithLabelValues(w.Domain).Set(float64(w.Tokens))
			limited.WithLabelValues(w.Domain).Set(float64(w.LimitedNew))
			code := OK
			for c := OK; c <= Unknown; c++ {
				if StatusName(c) == w.Status {
					code = c
				}
			}
			status.WithLabelValues(w.Domain).Set(float64(code))
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		return err
	}
	return datadir.Write(path, func(w io.Writer) error {
		enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return err
			}
		}
		return nil
	})
}
