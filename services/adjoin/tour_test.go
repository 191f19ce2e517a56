package adjoin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
)

// tourSection is the README section whose shell blocks TestREADMETour runs.
const tourSection = "## A five-minute tour"

// tourStep is one command of the tour and the output the README prints under it.
type tourStep struct {
	line int      // README line of the command
	cmd  string   // the command, continuation lines joined
	want []string // the "# " lines right under it; none: only its exit status is checked
}

// TestREADMETour runs the commands of the README's tour against a fresh `adjoin dev` stack and
// compares what each prints with the "# " lines the README shows under it. The tour's addresses
// (the defaults of `adjoin dev`) are replaced with the test stack's; `make run` is the stack.
func TestREADMETour(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := tourSteps(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 8 {
		t.Fatalf("the tour has %d commands; the parser lost some", len(steps))
	}
	sample.Dir(t) // skips the test when shared/data is not beside the checkout, as the tour needs
	s := startStack(t)
	vars := map[string]string{}
	for _, st := range steps {
		got, err := s.runTourStep(t, st, vars)
		if err != nil {
			t.Fatalf("README.md:%d %s: %v", st.line, st.cmd, err)
		}
		if st.want == nil {
			continue
		}
		if strings.HasPrefix(st.cmd, "bin/adjoin badge") || strings.HasPrefix(st.cmd, "bin/adjoin alerts") {
			// A person types the next command after the counts moved; the test waits as long.
			testkit.Eventually(t, 20*time.Second, func() error {
				if got, err = s.runTourStep(t, st, vars); err != nil {
					return err
				}
				return diffLines(st.want, got)
			})
			continue
		}
		if err := diffLines(st.want, got); err != nil {
			t.Errorf("README.md:%d %s: %v", st.line, st.cmd, err)
		}
	}
}

// tourSteps reads the commands of the tour's sh blocks. A line starting with "#" right after a
// command is its output; after a blank line or at a block's start it is a comment.
func tourSteps(readme string) ([]tourStep, error) {
	start := strings.Index(readme, "\n"+tourSection+"\n")
	if start < 0 {
		return nil, fmt.Errorf("README has no %q section", tourSection)
	}
	lineNo := strings.Count(readme[:start], "\n") + 2
	section := readme[start+len(tourSection)+2:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var steps []tourStep
	inBlock, afterCmd := false, false
	var cont *tourStep
	for i, l := range strings.Split(section, "\n") {
		n := lineNo + i
		switch {
		case strings.HasPrefix(l, "```"):
			inBlock, afterCmd = l == "```sh", false
		case !inBlock:
		case cont != nil:
			cont.cmd += " " + strings.TrimSpace(strings.TrimSuffix(l, `\`))
			if !strings.HasSuffix(l, `\`) {
				steps, cont = append(steps, *cont), nil
				afterCmd = true
			}
		case strings.TrimSpace(l) == "":
			afterCmd = false
		case strings.HasPrefix(l, "#"):
			if afterCmd {
				out := strings.TrimPrefix(strings.TrimPrefix(l, "#"), " ")
				steps[len(steps)-1].want = append(steps[len(steps)-1].want, out)
			}
		default:
			st := tourStep{line: n, cmd: strings.TrimSpace(strings.TrimSuffix(l, `\`))}
			if strings.HasSuffix(l, `\`) {
				cont = &st
				continue
			}
			steps, afterCmd = append(steps, st), true
		}
	}
	return steps, nil
}

// runTourStep runs one command of the tour and returns what it printed.
func (s *testStack) runTourStep(t *testing.T, st tourStep, vars map[string]string) (string, error) {
	t.Helper()
	words, err := shellWords(st.cmd, vars)
	if err != nil {
		return "", err
	}
	switch {
	case len(words) == 1 && strings.Contains(words[0], "="):
		name, value, _ := strings.Cut(words[0], "=")
		vars[name] = value
		return "", nil
	case words[0] == "make" && len(words) == 2 && words[1] == "run":
		return "", nil // the stack the test started
	case words[0] == "curl":
		return s.tourCurl(words[1:])
	case words[0] == "bin/adjoin":
		return s.tourAdjoin(t, words[1:])
	}
	return "", fmt.Errorf("the tour test does not know how to run %q", words[0])
}

// tourCurl runs the curl forms of the tour: -s, --data-binary with @FILE or an empty body, -w
// with %{http_code}.
func (s *testStack) tourCurl(args []string) (string, error) {
	var body []byte
	var format, url string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-s":
		case a == "--data-binary" && i+1 < len(args):
			i++
			if file, ok := strings.CutPrefix(args[i], "@"); ok {
				if !filepath.IsAbs(file) {
					file = filepath.Join("..", "..", file) // the tour runs at the repository's root
				}
				b, err := os.ReadFile(file)
				if err != nil {
					return "", err
				}
				body = b
			} else {
				body = []byte(args[i])
			}
		case a == "-w" && i+1 < len(args):
			i++
			format = args[i]
		case strings.HasPrefix(a, "http://"):
			url = s.tourURL(a)
		default:
			return "", fmt.Errorf("curl argument %q is not one the tour test knows", a)
		}
	}
	resp, err := http.Post(url, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	out := string(b)
	if format != "" {
		out += strings.ReplaceAll(strings.ReplaceAll(format, "%{http_code}", fmt.Sprint(resp.StatusCode)), `\n`, "\n")
	}
	return out, nil
}

// tourURL replaces the default addresses of `adjoin dev` with the test stack's.
func (s *testStack) tourURL(u string) string {
	for def, got := range map[string]string{"http://127.0.0.1:8081": s.DCURL, "http://127.0.0.1:8082": s.EndpointURL} {
		if rest, ok := strings.CutPrefix(u, def); ok {
			return got + rest
		}
	}
	return u
}

// tourAdjoin runs bin/adjoin in process, pointed at the test stack; its stdout and stderr are
// the output, as in a terminal.
func (s *testStack) tourAdjoin(t *testing.T, args []string) (string, error) {
	t.Helper()
	if len(args) == 0 {
		return "", errors.New("bin/adjoin without a command")
	}
	n := 1 // the command words before the flags
	if args[0] == "badge" {
		n = 2
	}
	var flag string
	switch args[0] {
	case "badge", "alerts", "status", "integration":
		flag = "--badge-addr=" + s.GRPCAddr
	case "tail", "ingest":
		flag = "--nats-url=" + s.NATSURL
	default:
		return "", fmt.Errorf("adjoin %s is not a command the tour test knows", args[0])
	}
	full := append(append(append([]string{}, args[:n]...), flag), args[n:]...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if code := Main(ctx, full, &out, &out); code != 0 {
		return out.String(), fmt.Errorf("exit %d: %s", code, out.String())
	}
	return out.String(), nil
}

// shellWords splits a command as sh would for the tour's forms: words, 'single' and "double"
// quotes, $NAME and ${NAME} from vars. Anything else (pipes, globs) is an error.
func shellWords(cmd string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote byte
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			if quote == c {
				quote = 0
			} else if quote == 0 {
				quote, inWord = c, true
			} else {
				cur.WriteByte(c)
			}
		case c == '$':
			name := ""
			j := i + 1
			if j < len(cmd) && cmd[j] == '{' {
				k := strings.IndexByte(cmd[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unclosed ${ in %q", cmd)
				}
				name, i = cmd[j+1:j+k], j+k
			} else {
				for j < len(cmd) && (cmd[j] == '_' || cmd[j] >= 'A' && cmd[j] <= 'Z' || cmd[j] >= 'a' && cmd[j] <= 'z' || cmd[j] >= '0' && cmd[j] <= '9') {
					j++
				}
				name, i = cmd[i+1:j], j-1
			}
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("$%s is not set in %q", name, cmd)
			}
			cur.WriteString(v)
			inWord = true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case quote == 0 && strings.IndexByte("|&;<>*?`", c) >= 0:
			return nil, fmt.Errorf("%q: the tour test runs no shell syntax beyond words and quotes (unquoted %c)", cmd, c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", cmd)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

// diffLines compares the README's lines with what a command printed, trailing spaces aside. A
// last line "..." stands for whatever follows (a status page's times and counters).
func diffLines(want []string, got string) error {
	g := strings.Split(strings.TrimRight(got, "\n"), "\n")
	for i := range g {
		g[i] = strings.TrimRight(g[i], " ")
	}
	cmp := g
	if n := len(want); n > 0 && want[n-1] == "..." && len(g) >= n-1 {
		cmp = append(g[:n-1:n-1], "...")
	}
	if strings.Join(cmp, "\n") == strings.Join(want, "\n") {
		return nil
	}
	return fmt.Errorf("the README shows\n  %s\nthe command printed\n  %s", strings.Join(want, "\n  "), strings.Join(g, "\n  "))
}

// TestShellWords pins the quoting the tour relies on: a quoted > and backslash stay as typed.
func TestShellWords(t *testing.T) {
	t.Parallel()
	got, err := shellWords(`bin/adjoin tail --all 'incidents.>' "$D/x" ${D}y`, map[string]string{"D": "/d"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bin/adjoin", "tail", "--all", "incidents.>", "/d/x", "/dy"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("words = %q, want %q", got, want)
	}
	if _, err := shellWords(`bin/adjoin tail --all incidents.>`, nil); err == nil {
		t.Error("an unquoted > (a redirection in sh) was taken as a word")
	}
	if got, _ := shellWords(`bin/adjoin badge get 'THESHIRE\pgustavo'`, nil); got[3] != `THESHIRE\pgustavo` {
		t.Errorf("quoted backslash: %q", got)
	}
}
