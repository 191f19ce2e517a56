// Package adjoin is the `adjoin` command: `adjoin dev` runs the four services in one process on
// an embedded JetStream server, and client commands (badge) talk to a running deployment.
package adjoin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/adjoin/adjoin/pkg/svcmain"
)

// Main runs the command line args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		usage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-version" || args[0] == "version" {
		fmt.Fprintln(stdout, "adjoin", svcmain.Version())
		return 0
	}
	// A command whose first argument picks the form (badge get|watch, ingest dc|endpoint):
	// --help without it prints every form; a missing or unknown form is a usage error.
	if forms, ok := map[string][]string{"badge": {"get", "watch"}, "ingest": {"dc", "endpoint"}}[args[0]]; ok {
		switch {
		case len(args) > 1 && isHelp(args[1]):
			groupHelp(stdout, args[0])
			return 0
		case len(args) == 1 || !slices.Contains(forms, args[1]):
			fmt.Fprintf(stderr, "adjoin %s: want %s first\n\n", args[0], strings.Join(forms, " or "))
			groupHelp(stderr, args[0])
			return 2
		}
	}
	var err error
	switch args[0] {
	case "dev":
		err = runDev(ctx, args[1:], stdout, stderr)
	case "badge":
		err = runBadge(ctx, args[1:], stdout)
	case "tail":
		err = runTail(ctx, args[1:], stdout, stderr)
	case "status":
		err = runStatus(ctx, args[1:], stdout)
	case "integration":
		err = runIntegration(ctx, args[1:], stdout)
	case "alerts":
		err = runAlerts(ctx, args[1:], stdout)
	case "ingest":
		err = runIngest(ctx, args[1:], stdout, stderr)
	case "detect":
		err = runDetect(ctx, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout, stderr)
	case BenchMinimalCommand:
		err = runBenchMinimal(ctx, args[1:], stdout)
	case "healthcheck":
		err = runHealthcheck(ctx, args[1:], stdout)
	case "provision":
		err = runProvision(ctx, args[1:], stdout)
	case "secrets":
		err = runSecrets(ctx, args[1:], stdout)
	case "reference":
		fmt.Fprintf(stdout, "## Settings\n%s\n## Metrics\n%s", SettingsReference(), MetricsReference())
	default:
		fmt.Fprintf(stderr, "adjoin: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "adjoin:", err)
		if strings.Contains(err.Error(), "--help") {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `adjoin joins identity-side and endpoint-side alerts by on-prem AD entity.

Usage:
  adjoin dev [flags]               run the whole stack on an embedded JetStream server
  adjoin badge get [flags] NAME    show the badge of a user or computer
                                   (NAME: SID, GUID, DOMAIN\sam, UPN, FQDN, NetBIOS or sam)
  adjoin badge watch [flags] [NAME...]
                                   print badges as they change (all entities without NAME)
  adjoin alerts [flags] NAME       an entity's alerts of both sides, newest first
  adjoin status [flags]            the integration status page: toggles, data, directory, lag
  adjoin integration on|off identity|endpoint
                                   turn one side of the integration on or off
  adjoin ingest dc|endpoint [flags] FILE...
                                   replay files into a running deployment, with progress
                                   (--url: through an ingestor's HTTPS intake with a token)
  adjoin detect [flags] FILE...     run both sides' detectors offline over exported event files
                                   and print each alert as a JSON line (no NATS needed)
  adjoin bench [flags]             performance figures beside their baselines, one table (make bench)
  adjoin healthcheck [flags] URL|ADDR
                                   exit 0 when a service's /readyz answers 200 (http URL) or
                                   its gRPC health says SERVING (ADDR): the images' health check
  adjoin secrets [flags]           write a lab CA, certificates and NATS passwords (./secrets)
  adjoin provision [flags]         create or update every stream and bucket, as the NATS admin user
  adjoin reference                 every setting of every binary and every metric, as markdown
  adjoin tail [flags] [SUBJECT]    print stored messages as JSON lines (default correlated.>;
                                   --all from the start, --from-seq N to resume)

Example:
  adjoin dev                                   # in one shell: the whole stack
  adjoin badge get 'THESHIRE\pgustavo'         # in another: a badge

Run "adjoin COMMAND --help" for what a command does, its arguments and flags, and
"adjoin --version" for the version and commit.
`)
}
