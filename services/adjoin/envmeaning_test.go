package adjoin

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// settingLine is a setting in --help: "  --flag (env ADJOIN_X, default "v")" then its help.
var settingLine = regexp.MustCompile(`(?m)^  --([a-z0-9-]+) \(env (ADJOIN_[A-Z0-9_]+), default "[^"]*"\)\n        (.*)$`)

// envMeanings maps every ADJOIN_* variable of every binary and command to the help texts
// given to it, with where each is used.
func envMeanings(t *testing.T) map[string]map[string][]string {
	t.Helper()
	helps := map[string]map[string][]string{}
	add := func(where, text string) {
		for _, m := range settingLine.FindAllStringSubmatch(text, -1) {
			env, help := m[2], m[3]
			if helps[env] == nil {
				helps[env] = map[string][]string{}
			}
			helps[env][help] = append(helps[env][help], where)
		}
	}
	for _, set := range settingSets() {
		if set.Name() == "adjoin dev" {
			continue // a command: read from its --help below
		}
		var b bytes.Buffer
		set.Usage(&b)
		add(set.Name(), b.String())
	}
	for _, c := range commands {
		args := append(strings.Fields(c.name), "--help")
		if c.name == "ingest" {
			args = []string{"ingest", "dc", "--help"}
		}
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("adjoin %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
		}
		add("adjoin "+c.name, out.String())
	}
	return helps
}

// sameMeaning are the variables given to more than one binary or command whose help texts
// differ in wording only: the same setting, read the same way wherever it is set.
var sameMeaning = map[string]string{
	"ADJOIN_DC_ADDRESSES":    "domain controller addresses, for the Zeek replication detector",
	"ADJOIN_DIRECTORY_LDIF":  "an LDIF export of the directory",
	"ADJOIN_FORMAT":          "the input shape of event files",
	"ADJOIN_HONEYTOKENS":     "decoy accounts",
	"ADJOIN_HTTP_ADDR":       "the address of the service's HTTP listener",
	"ADJOIN_MAX_DELIVERIES":  "the delivery at which a message is dead-lettered",
	"ADJOIN_NETBIOS_DOMAIN":  "the NetBIOS domain of the directory",
	"ADJOIN_SAMBA_DC":        "the host name of the DC that wrote a Samba log",
	"ADJOIN_SHUTDOWN_GRACE":  "the time allowed for work in flight at shutdown",
	"ADJOIN_TLS_CA":          "the CA of the server's certificate, for a client",
	"ADJOIN_CLIENT_TLS_CERT": "a client's certificate",
	"ADJOIN_CLIENT_TLS_KEY":  "a client's key",
	"ADJOIN_TOKENS_FILE":     "the tokens a service accepts",
}

// TestOneMeaningPerEnvVar fails when an ADJOIN_* variable means different things in different
// binaries or commands (ADJOIN_DIR was adjoin dev's data and adjoin secrets' output, ADJOIN_JSON
// a yes/no and a file name, ADJOIN_TLS_CERT a server's and a client's certificate): a variable
// exported for one command would change another. A variable whose help texts differ must be
// renamed (config.Set.Env) or, if it is the same setting, listed in sameMeaning.
func TestOneMeaningPerEnvVar(t *testing.T) {
	helps := envMeanings(t)
	if len(helps) < 50 {
		t.Fatalf("read %d variables from the --help pages; the pattern lost some", len(helps))
	}
	var envs []string
	for env, h := range helps {
		if len(h) > 1 && sameMeaning[env] == "" {
			envs = append(envs, env)
		}
	}
	sort.Strings(envs)
	for _, env := range envs {
		var uses []string
		for help, where := range helps[env] {
			uses = append(uses, fmt.Sprintf("%v: %q", where, help))
		}
		sort.Strings(uses)
		t.Errorf("%s has %d meanings:\n  %s", env, len(uses), strings.Join(uses, "\n  "))
	}
	for env := range sameMeaning {
		if len(helps[env]) < 2 {
			t.Errorf("%s is listed in sameMeaning but has one help text: drop it from the list", env)
		}
	}
}
