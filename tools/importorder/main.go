// Command importorder fails when a Go file's imports are not grouped as the house writes them:
// the standard library first, then third-party modules, then github.com/adjoin, each group apart.
// goimports -local github.com/adjoin separates the groups but leaves their order alone; this
// command checks the order. Usage: importorder FILE... (prints file:line of each offence, exits 1).
package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
)

const local = "github.com/adjoin/"

// group is an import path's rank: 0 standard library, 1 third party, 2 adjoin.
func group(path string) int {
	switch {
	case strings.HasPrefix(path, local):
		return 2
	case strings.Contains(strings.SplitN(path, "/", 2)[0], "."):
		return 1
	}
	return 0
}

// check returns a message for the first import of file that stands out of order, or "".
func check(fset *token.FileSet, file string) (string, error) {
	f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
	if err != nil {
		return "", err
	}
	prev, prevLine := -1, 0
	for _, im := range f.Imports {
		path, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			return "", fmt.Errorf("%s: import %s: %w", file, im.Path.Value, err)
		}
		g, line := group(path), fset.Position(im.Pos()).Line
		switch {
		case g < prev:
			return fmt.Sprintf("%s:%d: %s stands after a later group (want std, third party, %s)", file, line, path, local), nil
		case prev >= 0 && g != prev && line == prevLine+1:
			return fmt.Sprintf("%s:%d: %s shares a group with other kinds of import", file, line, path), nil
		}
		prev, prevLine = g, line
	}
	return "", nil
}

func main() {
	fset, bad := token.NewFileSet(), false
	for _, file := range os.Args[1:] {
		msg, err := check(fset, file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "importorder:", err)
			os.Exit(2)
		}
		if msg != "" {
			fmt.Println(msg)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
}
