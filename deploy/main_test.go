// Package deploy holds the tests of the Helm chart (helm/weir) and the
// Grafana dashboard (grafana/weir-red.json). It is a module of its own so
// that the Helm SDK and the Kubernetes API types never enter weir's go.mod;
// weir itself is built from the repository root and run as `weir rules
// check` and `weir rules test`, as a user would.
package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	chartDir      = "helm/weir"
	dashboardFile = "grafana/weir-red.json"
	repoRoot      = ".."
)

// weirBin is the weir binary TestMain builds from the repository root.
var weirBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	weirBin = filepath.Join(dir, "weir")
	build := exec.Command("go", "build", "-o", weirBin, "./cmd/weir")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building weir from %s: %v\n%s", repoRoot, err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runWeir runs the weir binary and returns its combined output.
func runWeir(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(weirBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
