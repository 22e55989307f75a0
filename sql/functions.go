package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/marcboeker/go-duckdb"

	"github.com/ctlimits/ctlimits/replay"
)

// The SQL functions researchers get in every ctlimits database. They call
// the same Go code the replay model uses, so SQL and replay never disagree
// on what a name, a set or a registered domain is. A name the model rejects
// gives NULL rather than failing the query: CT holds every kind of name.
//
//	registered_domain(name VARCHAR) -> VARCHAR
//	normalize_names(names VARCHAR[]) -> VARCHAR[]
//	fqdn_set_hash(names VARCHAR[]) -> VARCHAR     (normalizes first)
//	registered_domains(names VARCHAR[]) -> VARCHAR[] (distinct, sorted)
//	certificate_profile(not_before TIMESTAMP, not_after TIMESTAMP, names BIGINT) -> VARCHAR
//	  (replay.InferProfile from the validity and the number of normalized
//	  names: classic, tlsserver, shortlived or unknown)

type udf struct {
	in, out  duckdb.TypeInfo
	executor func(v driver.Value) (any, error)
}

func (u udf) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{u.in}, ResultTypeInfo: u.out}
}

func (u udf) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		return u.executor(values[0])
	}}
}

// udf3 is a scalar function of three arguments.
type udf3 struct {
	in       [3]duckdb.TypeInfo
	out      duckdb.TypeInfo
	executor func(a, b, c driver.Value) (any, error)
}

func (u udf3) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{InputTypeInfos: u.in[:], ResultTypeInfo: u.out}
}

func (u udf3) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(values []driver.Value) (any, error) {
		return u.executor(values[0], values[1], values[2])
	}}
}

// certificateProfile is the profile the replay infers for a certificate
// (replay.InferProfile) from its validity and its number of normalized
// names; NULL when one is NULL. It takes a count, not the names, so that
// a view computing it for every row stays cheap.
func certificateProfile(nb, na, names driver.Value) (any, error) {
	b, okB := nb.(time.Time)
	a, okA := na.(time.Time)
	n, okN := names.(int64)
	if !okB || !okA || !okN {
		return nil, nil
	}
	return replay.InferProfile(b.UnixNano(), a.UnixNano(), int(n)).String(), nil
}

// namesOf converts a DuckDB VARCHAR[] to strings, skipping NULL elements.
func namesOf(v driver.Value) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func registerFunctions(ctx context.Context, db *dbsql.DB) error {
	varchar, err := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	if err != nil {
		return err
	}
	list, err := duckdb.NewListInfo(varchar)
	if err != nil {
		return err
	}
	prepare := func(v driver.Value) (replay.Prepared, bool) {
		var n replay.Namer
		p, err := n.Prepare(&replay.Order{IssuedAt: epoch, Names: namesOf(v)})
		return p, err == nil
	}
	funcs := map[string]udf{
		"registered_domain": {varchar, varchar, func(v driver.Value) (any, error) {
			s, _ := v.(string)
			d, err := replay.RegisteredDomain(s)
			if err != nil {
				return nil, nil
			}
			return d, nil
		}},
		"normalize_names": {list, list, func(v driver.Value) (any, error) {
			if p, ok := prepare(v); ok {
				return p.Names, nil
			}
			return nil, nil
		}},
		"fqdn_set_hash": {list, varchar, func(v driver.Value) (any, error) {
			if p, ok := prepare(v); ok {
				return p.Set.String(), nil
			}
			return nil, nil
		}},
		"registered_domains": {list, list, func(v driver.Value) (any, error) {
			if p, ok := prepare(v); ok {
				return p.Domains, nil
			}
			return nil, nil
		}},
	}
	ts, err := duckdb.NewTypeInfo(duckdb.TYPE_TIMESTAMP)
	if err != nil {
		return err
	}
	bigint, err := duckdb.NewTypeInfo(duckdb.TYPE_BIGINT)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("couldn't register SQL functions: %w", err)
	}
	defer conn.Close()
	for name, f := range funcs {
		if err := duckdb.RegisterScalarUDF(conn, name, f); err != nil {
			return fmt.Errorf("couldn't register SQL function %s: %w", name, err)
		}
	}
	profile := udf3{in: [3]duckdb.TypeInfo{ts, ts, bigint}, out: varchar, executor: certificateProfile}
	if err := duckdb.RegisterScalarUDF(conn, "certificate_profile", profile); err != nil {
		return fmt.Errorf("couldn't register SQL function certificate_profile: %w", err)
	}
	return nil
}

// epoch is a placeholder order time: the functions need names only.
var epoch = time.Unix(1, 0)
