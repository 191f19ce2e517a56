package adjoin

import (
	"fmt"
	"io"
	"strings"

	"github.com/adjoin/adjoin/pkg/config"
)

// command is what `adjoin NAME --help` says before the settings.
type command struct {
	name     string   // as typed after adjoin, such as "badge get"
	args     string   // what follows the name, such as "[flags] NAME"
	about    string   // what the command does
	examples []string // command lines
}

// commands documents every command of `adjoin`; commandSet gives each its --help.
var commands = []command{
	{"dev", "[flags]", "Runs the whole stack in one process: an embedded JetStream server (data in --dir, locked while\n" +
		"it runs) and the four services, without TLS, every listener on --host. Ctrl-C stops it.",
		[]string{"adjoin dev", "adjoin dev --dir /tmp/adjoin2 --nats-port 4223 --dc-port 8181 --endpoint-port 8182 --correlator-port 8183 --grpc-port 9190 --badge-http-port 9191"}},
	{"badge get", "[flags] NAME", "Shows the badge of one user or computer: each side's alert count, open alerts, highest\n" +
		"severity and last alert, or why a side is greyed. NAME is a SID, an objectGUID, DOMAIN\\sam,\n" +
		"a UPN, an FQDN, a NetBIOS name or a bare sAMAccountName.",
		[]string{`adjoin badge get 'THESHIRE\pgustavo'`, "adjoin badge get --json WORKSTATION6"}},
	{"badge watch", "[flags] [NAME...]", "Prints badges as they change, those of NAME... or every entity's; Ctrl-C stops it.",
		[]string{"adjoin badge watch WORKSTATION5 pgustavo"}},
	{"alerts", "[flags] NAME", "Lists the alerts of both sides that name a user or computer, newest first, a page at a time.",
		[]string{`adjoin alerts 'THESHIRE\pgustavo'`, "adjoin alerts --page-size 50 --page-token TOKEN WORKSTATION5"}},
	{"status", "[flags]", "Prints the integration status page: the toggles, data received per side, the directory\n" +
		"sync, the correlator's lag and the services seen recently.",
		[]string{"adjoin status", "adjoin status --json"}},
	{"integration", "[flags] on|off identity|endpoint", "Turns one side of the integration on or off (admin role when checks are on). The\n" +
		"integration is on only when both sides are: while either is off every badge is greyed.",
		[]string{"adjoin integration off endpoint", "adjoin integration on endpoint"}},
	{"ingest", "dc|endpoint [flags] FILE...", "Replays event files into a running deployment, with progress: straight to the side's\n" +
		"event stream over NATS, or with --url through an ingestor's HTTPS intake with a sender token.\n" +
		"Lines already stored are counted, not stored twice.",
		[]string{"adjoin ingest dc ../shared/data/otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json",
			"adjoin ingest endpoint --url https://endpointingest:8082 --tls-ca secrets/ca.crt --token-file secrets/intake-endpoint-agent.token sysmon.json"}},
	{"detect", "[flags] FILE...", "Runs both sides' detectors offline over exported event files (- for standard input) and\n" +
		"prints each alert as a JSON line; no NATS needed.",
		[]string{"adjoin detect ../shared/data/otrf/host/*.json", "adjoin detect --directory-ldif services/adjoin/demo/theshire.ldif events.json"}},
	{"tail", "[flags] [SUBJECT]", "Prints stored messages as JSON lines (correlated.> by default): new ones, or with --all\n" +
		"from the start, or from --from-seq. Without --max it follows until Ctrl-C. What it does\n" +
		"goes to stderr, so stdout stays JSON.",
		[]string{"adjoin tail --all --max 1 'incidents.>'", "adjoin tail 'correlated.user.>'"}},
	{"bench", "[flags]", "Measures adjoin's figures beside their baselines in one run (make bench) and prints one\n" +
		"table; --json writes every figure with the commit and machine.",
		[]string{"adjoin bench --quick", "adjoin bench --only memory,getbadge --sizes 10000,1000000 --json bench.json"}},
	{"healthcheck", "[flags] URL|ADDR", "Exits 0 when a service is ready: its /readyz answers 200 (an http(s) URL) or its gRPC\n" +
		"health says SERVING (HOST:PORT). The images' health check.",
		[]string{"adjoin healthcheck http://127.0.0.1:8083/readyz", "adjoin healthcheck --tls-ca ca.crt 127.0.0.1:9090"}},
	{"secrets", "[flags]", "Writes a lab CA, the certificates, NATS passwords and sender tokens a deployment needs\n" +
		"(./secrets by default, what docker-compose.yml mounts); it refuses to overwrite them.",
		[]string{"adjoin secrets --mode 0644", "adjoin secrets --dir /etc/adjoin/secrets --rotate-passwords"}},
	{"provision", "[flags]", "Creates or updates every stream and bucket as the NATS admin user; it never deletes.",
		[]string{"ADJOIN_NATS_USER=admin ADJOIN_NATS_PASSWORD_FILE=secrets/nats-admin.password adjoin provision --nats-url tls://nats:4222"}},
}

// commandSet starts the settings of command name, described for --help.
func commandSet(name string) *config.Set {
	s := config.New("adjoin " + name)
	for _, c := range commands {
		if c.name == name {
			s.Describe(c.about, "adjoin "+c.name+" "+c.args, c.examples...)
		}
	}
	return s
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help" || arg == "help"
}

// groupHelp prints the help of a command with subcommands (badge) or a first argument (ingest)
// when it is asked for without them: each form with what it does, and where the flags are.
func groupHelp(w io.Writer, group string) {
	for _, c := range commands {
		if c.name == group || strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "Usage: adjoin %s %s\n  %s\n\n", c.name, c.args, strings.ReplaceAll(c.about, "\n", "\n  "))
		}
	}
	sub := group + " get"
	if group == "ingest" {
		sub = "ingest dc"
	}
	fmt.Fprintf(w, "Run \"adjoin %s --help\" for the flags.\n", sub)
}
