package ingest

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/ctlimits/ctlimits/ingest/ctlogtest"
)

// A log of unsigned fast leaves ingests exactly like one of signed leaves:
// every entry parses, with the planned names.
func TestFastLeavesIngestLikeSignedOnes(t *testing.T) {
	for _, fast := range []bool{false, true} {
		plan := ctlogtest.DemoPlan()
		plan.Fast = fast
		l, err := ctlogtest.FromPlan(plan)
		if err != nil {
			t.Fatal(err)
		}
		s := ctlogtest.NewServer(l, int64(len(l.Entries)))
		srv := httptest.NewServer(s.Static())
		defer srv.Close()
		data := t.TempDir()
		sum, err := Run(context.Background(), Config{Log: staticLog(l, srv.URL+"/"), Data: data, HTTP: testHTTP(&fakeClock{})})
		if err != nil {
			t.Fatal(err)
		}
		rows := readRows(t, data)
		if sum.ParseErrors != 0 || len(rows) != len(l.Entries) {
			t.Fatalf("fast=%v: %d rows, %d parse errors", fast, len(rows), sum.ParseErrors)
		}
		for _, r := range rows {
			if len(r.DNS) == 0 || r.Serial == "" || r.Issuer == "" {
				t.Fatalf("fast=%v: row %+v", fast, r)
			}
		}
	}
}
