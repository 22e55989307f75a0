// Package report turns a replay's decisions into the answers ctlimits'
// users come for: what the data covers, which certificates the model says
// would have been limited, how busy each registered domain is, how large an
// override each limited domain needs (found by replaying, not by counting),
// and how much headroom a domain has now.
//
// Build runs the aggregates in DuckDB over the views of package sql
// (decisions, certificates, entries), so a report over millions of
// decisions never loads them into Go; only the orders of the few domains
// being sized are read back and replayed. The Report it returns is plain
// data; the Write methods render it as text, Markdown, JSON (a stable,
// versioned schema, docs/reports.md), CSV (one table per file) or a single
// self-contained HTML file with SVG charts.
//
// Certificates in CT were issued. A decision of "limited" means the model
// would have limited the order, so the report labels such orders "over the
// model", with the likely reasons (an override, ARI, concurrent orders),
// never as errors.
package report
