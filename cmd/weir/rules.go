package main

import (
	"context"
	"fmt"
	"io"

	"github.com/weirdev/weir/rules"
)

func cmdRules(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: weir rules check FILE|DIR...")
		return 2
	}
	paths := args[1:]
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "usage: weir rules check FILE|DIR...")
		return 2
	}
	s, err := rules.Load(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	fmt.Fprintf(stdout, "%d rules OK\n", len(s.Rules()))
	return 0
}
