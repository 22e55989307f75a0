package ingest

import (
	"encoding/json"
	"reflect"
	"testing"

	ct "github.com/google/certificate-transparency-go"
)

// checkGetEntries compares decodeGetEntries with json.Unmarshal on b.
func checkGetEntries(t *testing.T, b []byte) (fast bool) {
	t.Helper()
	var resp ct.GetEntriesResponse
	werr := json.Unmarshal(b, &resp)
	got, gerr := decodeGetEntries(b)
	if (werr != nil) != (gerr != nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%q: error %v, encoding/json says %v", b, gerr, werr)
	}
	if werr != nil {
		return false
	}
	if len(got) != len(resp.Entries) {
		t.Fatalf("%q: %d entries, encoding/json says %d", b, len(got), len(resp.Entries))
	}
	for i := range got {
		// Equal contents; nil versus empty is not a difference callers see.
		if string(got[i].LeafInput) != string(resp.Entries[i].LeafInput) || string(got[i].ExtraData) != string(resp.Entries[i].ExtraData) {
			t.Fatalf("%q: entry %d differs", b, i)
		}
	}
	_, fast = fastGetEntries(b)
	return fast
}

var getEntriesSeeds = []string{
	`{"entries":[]}`,
	`{"entries":[{"leaf_input":"AAE=","extra_data":""}]}`,
	` { "entries" : [ { "extra_data" : "AQID" , "leaf_input" : "AAECAw==" } ,` + "\n\t" + `{"leaf_input":"","extra_data":"/w=="} ] } `,
	`{"entries":[{"leaf_input":"AAE=","extra_data":"","other":1}]}`,
	`{"entries":[{"leaf_input":"AAE=","extra_data":"","leaf_input":"AQ=="}]}`,
	`{"Entries":[{"Leaf_Input":"AAE=","extra_data":""}]}`,
	`{"entries":[{"leaf_input":"AA\u0045=","extra_data":""}]}`,
	`{"entries":[{"leaf_input":null,"extra_data":""}]}`,
	`{"entries":[{"leaf_input":"AAE","extra_data":""}]}`,
	`{"entries":[{"leaf_input":"A!E=","extra_data":""}]}`,
	`{"entries":[{"leaf_input":"AAE=","extra_data":""}]}x`,
	`{"entries":[{"leaf_input":"AAE=","extra_data":""},]}`,
	`{"entries":[{"leaf_input":"AAE="}]}`,
	`{"entries":null}`,
	`{}`,
	`[]`,
	``,
}

func TestDecodeGetEntriesMatchesEncodingJSON(t *testing.T) {
	for _, s := range getEntriesSeeds {
		checkGetEntries(t, []byte(s))
	}
	if !checkGetEntries(t, []byte(getEntriesSeeds[2])) {
		t.Fatal("white space and key order should take the fast path")
	}
	// A real response from the sample log.
	l := mustSample(t)
	var resp ct.GetEntriesResponse
	for _, e := range l.Entries[:50] {
		resp.Entries = append(resp.Entries, ct.LeafEntry{LeafInput: e.LeafInput, ExtraData: e.ExtraData})
	}
	b, _ := json.Marshal(resp)
	if !checkGetEntries(t, b) {
		t.Fatal("a plain response did not take the fast path")
	}
	got, _ := decodeGetEntries(b)
	if !reflect.DeepEqual(got, resp.Entries) {
		t.Fatal("decoded entries differ from the marshalled ones")
	}
}

func FuzzDecodeGetEntries(f *testing.F) {
	for _, s := range getEntriesSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkGetEntries(t, b) })
}
