package testenv_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirdev/weir/internal/testenv"
)

// runCommon runs a bash script that sources test/lib/common.sh, with the
// arguments args, and returns its stdout and stderr.
func runCommon(t *testing.T, ctx context.Context, body string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	src := "set -euo pipefail\n. " + filepath.Join(testenv.Root(t), "test", "lib", "common.sh") + "\n" + body
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-c", src, "common-test"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// TestSpawnWaitsForExec checks that spawn returns only once the started
// process runs its command: a forked shell that has not exec'd yet shows the
// parent script's command line, which pid_is takes for a dead process (a
// Jaeger start failed so on a busy machine). Here the fork is held before
// its exec on purpose: it opens its log, a FIFO, for writing, which blocks
// until a reader comes a second later.
func TestSpawnWaitsForExec(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	// The marker is made at run time: the script's own command line, which
	// the fork shows until it execs, must not contain it.
	_, stderr, err := runCommon(t, ctx, `
d=$1 m="weir-spawn-$RANDOM-marker"
mkfifo "$d/log"
( sleep 1; exec timeout 60 cat "$d/log" ) </dev/null >/dev/null 2>&1 &
reader=$!
spawn "$d/log" "$d/pid" "$m" bash -c 'exec -a "$0" sleep 60' "$m"
if ! pid_is "$d/pid" "$m"; then echo "spawn returned before its command ran" >&2; exit 1; fi
stop_pid "$d/pid" "$m" 5
kill "$reader" 2>/dev/null || true
`, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}

	// A command that exits before its command line ever shows the pattern:
	// spawn returns once it is gone, not after its 60 s.
	_, stderr, err = runCommon(t, ctx, `
spawn "$1/log2" "$1/pid2" "weir-spawn-$RANDOM-marker" false
if proc_alive "$(cat "$1/pid2")"; then echo "the command should be gone" >&2; exit 1; fi
`, dir)
	if err != nil || strings.Contains(stderr, "had not exec'd") {
		t.Fatalf("spawn of a command that exits at once: %v\n%s", err, stderr)
	}
}

// TestScriptsStartThroughSpawn checks that no script under test/ uses
// nohup: a start of its own would bring back the race that spawn closes, and
// nohup's own execve of the command is a second moment at which the
// process's command line is empty.
func TestScriptsStartThroughSpawn(t *testing.T) {
	root := testenv.Root(t)
	err := filepath.WalkDir(filepath.Join(root, "test"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sh") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if code, _, _ := strings.Cut(line, "#"); strings.Contains(code, "nohup") {
				t.Errorf("%s:%d starts a process with nohup; use spawn (test/lib/common.sh): %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
