package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ctlimits/ctlimits/replay/shard"
)

// TestK8sJobUsesRealFlags parses the Kubernetes Indexed Job example and
// checks its command against the real CLI: the command exists, every flag
// parses (with the completion index substituted), --shard is I/N with N
// equal to completions, and the Job is Indexed.
func TestK8sJobUsesRealFlags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "k8s", "replay-shards-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind string `yaml:"kind"`
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Command []string `yaml:"command"`
						Env     []struct {
							Name string `yaml:"name"`
						} `yaml:"env"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	if job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || job.Spec.Completions < 1 || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("not an Indexed Job with one container: %+v", job)
	}
	ctr := job.Spec.Template.Spec.Containers[0]
	if len(ctr.Command) < 2 {
		t.Fatalf("command %q", ctr.Command)
	}
	c, ok := commands[ctr.Command[1]]
	if !ok {
		t.Fatalf("command %q: no such ctlimits command", ctr.Command[1])
	}
	for _, idx := range []string{"0", "7"} {
		args := make([]string, len(ctr.Command)-2)
		for i, a := range ctr.Command[2:] {
			args[i] = strings.ReplaceAll(a, "$(JOB_COMPLETION_INDEX)", idx)
		}
		fs := newFlagSet(c)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if len(fs.Args()) > 0 {
			t.Fatalf("%q: stray arguments %q", args, fs.Args())
		}
		spec, _ := fs.GetString("shard")
		i, n, err := shard.ParseSpec(spec)
		if err != nil || n != job.Spec.Completions || i < 0 {
			t.Fatalf("--shard %q with %d completions: %v", spec, job.Spec.Completions, err)
		}
		if data, _ := fs.GetString("data"); data == "" {
			t.Fatal("no --data")
		}
	}
	if !strings.Contains(strings.Join(ctr.Command, " "), "$(JOB_COMPLETION_INDEX)/") {
		t.Fatal("the shard index is not the completion index")
	}
	found := false
	for _, e := range ctr.Env {
		found = found || e.Name == "JOB_COMPLETION_INDEX"
	}
	if !found {
		t.Fatal("JOB_COMPLETION_INDEX is not in the container's environment")
	}
}
