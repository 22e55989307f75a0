package golden

import (
	"strings"
	"testing"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"one line changed, with context", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"a line added at the end", "a\n", "a\nb\n", "@@ -1,1 +1,2 @@\n a\n+b\n"},
		{"two hunks far apart", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "x\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ny\n",
			"@@ -1,4 +1,4 @@\n-1\n+x\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+y\n"},
		{"a missing final newline", "a\n", "a", "@@ -1,1 +1,1 @@\n-a\n+a\n\\ No newline at end of file\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Diff(tc.a, tc.b); got != tc.want {
				t.Errorf("Diff:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// A difference deep in a long line (an HTML chart) is shown, not cut off.
func TestDiffShowsWhereALongLineDiffers(t *testing.T) {
	a := strings.Repeat("x", 5000) + "OLD" + strings.Repeat("y", 5000) + "\n"
	b := strings.Repeat("x", 5000) + "NEW" + strings.Repeat("y", 5000) + "\n"
	d := Diff(a, b)
	if !strings.Contains(d, "OLD") || !strings.Contains(d, "NEW") || len(d) > 1000 {
		t.Errorf("diff of two long lines (%d bytes):\n%s", len(d), d)
	}
}
