package testenv

import (
	"fmt"
	"os/exec"
	"testing"
	"time"
)

// Chromium returns the path of a Chromium executable, installing Debian's
// chromium package with test/chromium/install.sh when there is none
// (test/setup.sh does it ahead). Run it headless with --headless
// --no-sandbox --disable-gpu and a fresh --user-data-dir. Chromium fails the
// test when it cannot be installed.
func Chromium(t testing.TB) (path string) {
	t.Helper()
	vars, err := once("chromium", func() (map[string]string, error) {
		if p, err := exec.LookPath("chromium"); err == nil {
			return map[string]string{"CHROMIUM": p}, nil
		}
		vars, err := script(t, 15*time.Minute, "test/chromium/install.sh")
		if err != nil {
			return nil, err
		}
		if vars["CHROMIUM"] == "" {
			return nil, fmt.Errorf("test/chromium/install.sh printed no CHROMIUM=")
		}
		return vars, nil
	})
	if err != nil {
		t.Fatalf("testenv: Chromium could not be installed: %v", err)
	}
	return vars["CHROMIUM"]
}
