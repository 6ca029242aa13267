package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

const configUsage = `usage:
  weir config check FILE    validate a weir configuration as weir run -config FILE does

The file is checked with the rules files it names (the built-in rules when it
names none) and the routing of their storage policies to its destinations.
Every problem is printed as FILE:LINE:COL: message.
`

func cmdConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return cmdConfigCheck(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	fmt.Fprintf(stderr, "weir config: unknown command %q\n\n%s", args[0], configUsage)
	return 2
}

// cmdConfigCheck validates one configuration as weir run starts with it.
// It prints every problem found as FILE:LINE:COL: message and exits 2 (invalid
// input, as weir run and weir rules check exit on it), or one OK line and
// exits 0; a command line without exactly one readable file gets the usage
// and exit 2 as well.
func cmdConfigCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	path := args[0]
	if st, err := os.Stat(path); err != nil || !st.Mode().IsRegular() {
		if err == nil {
			err = fmt.Errorf("%s is not a file", path)
		}
		fmt.Fprintf(stderr, "weir config check: %v\n\n%s", err, configUsage)
		return 2
	}
	cfg, s, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintln(stdout, configOK(path, cfg.Rules, s.Len()))
	return 0
}
