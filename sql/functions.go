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
	return nil
}

// epoch is a placeholder order time: the functions need names only.
var epoch = time.Unix(1, 0)
