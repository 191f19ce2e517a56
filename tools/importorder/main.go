// Command importorder fails when a Go file's imports are not grouped as the house writes them:
// the standard library first, then third-party modules, then github.com/adjoin, each group apart.
// goimports -local github.com/adjoin separates the groups but leaves their order alone; this
// command checks the order. Usage: importorder [-fix] FILE... (prints file:line of each offence,
// exits 1). With -fix it joins the import block of each offending file into one group instead,
// for goimports -local github.com/adjoin -w to split again in order (make imports does both).
package main

import (
	"bytes"
	"flag"
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

// join removes the blank lines of file's parenthesized import block, leaving comments as they
// are, so that goimports sorts the block into its groups again.
func join(fset *token.FileSet, file string) error {
	f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	for _, d := range f.Decls {
		if !d.Pos().IsValid() || len(f.Imports) == 0 {
			continue
		}
		start, end := fset.Position(d.Pos()).Offset, fset.Position(d.End()).Offset
		block := src[start:end]
		if !bytes.HasPrefix(block, []byte("import (")) {
			continue
		}
		var lines [][]byte
		for _, l := range bytes.Split(block, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, l)
			}
		}
		joined := bytes.Join(lines, []byte("\n"))
		out := append(append(append([]byte{}, src[:start]...), joined...), src[end:]...)
		return os.WriteFile(file, out, 0o644)
	}
	return nil
}

func main() {
	fix := flag.Bool("fix", false, "join the import block of each offending file for goimports to regroup")
	flag.Parse()
	fset, bad := token.NewFileSet(), false
	for _, file := range flag.Args() {
		msg, err := check(fset, file)
		if err == nil && msg != "" && *fix {
			err = join(fset, file)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "importorder:", err)
			os.Exit(2)
		}
		if msg != "" && !*fix {
			fmt.Println(msg)
			bad = true
		}
	}
	if bad {
		os.Exit(1)
	}
}
