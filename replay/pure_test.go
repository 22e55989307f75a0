package replay_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestReplayIsPure checks that package replay itself imports nothing that
// does I/O or escapes Go's memory safety: the storage engine that needs
// unsafe, syscall and assembly lives in replay/internal, and the model
// takes time from its orders and data through io.Reader and io.Writer.
func TestReplayIsPure(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"unsafe", "syscall", "os", "os/exec", "io/fs", "io/ioutil", "net", "net/http", "path/filepath", "runtime/cgo"}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s: keep it out of package replay (replay/internal holds the storage engine)", f, path)
				}
			}
			if strings.HasPrefix(path, "github.com/ctlimits/ctlimits/") && !strings.HasPrefix(path, "github.com/ctlimits/ctlimits/replay/internal/") {
				t.Errorf("%s imports %s: replay depends only on its own internal packages", f, path)
			}
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d files", checked)
	}
	if s, err := filepath.Glob("*.s"); err != nil || len(s) > 0 {
		t.Fatalf("assembly in package replay: %v %v", s, err)
	}
}
