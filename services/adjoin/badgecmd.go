package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func runBadge(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "get" && args[0] != "watch") {
		return errors.New(`usage: adjoin badge get|watch [flags] NAME... (see --help)`)
	}
	var c clientFlags
	s := commandSet("badge " + args[0])
	c.define(s)
	if done, err := parse(s, args[1:], stdout); done || err != nil {
		return err
	}
	client, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	if args[0] == "watch" {
		return watchBadges(ctx, &c, client, s.Args(), stdout)
	}
	if len(s.Args()) != 1 {
		return errors.New(`adjoin badge get: want exactly one NAME, for example 'THESHIRE\pgustavo' (see --help)`)
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := client.GetBadge(cctx, &adjoinv1.GetBadgeRequest{Selector: query(s.Args()[0])})
	if err != nil {
		return c.explain(err)
	}
	if c.asJSON {
		return printJSON(stdout, resp.GetBadge())
	}
	printBadge(stdout, resp.GetBadge())
	return nil
}

func watchBadges(ctx context.Context, c *clientFlags, client adjoinv1.BadgeServiceClient, names []string, stdout io.Writer) error {
	req := &adjoinv1.WatchBadgesRequest{}
	for _, n := range names {
		req.Selectors = append(req.Selectors, query(n))
	}
	stream, err := client.WatchBadges(ctx, req)
	if err != nil {
		return c.explain(err)
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return c.explain(err)
		}
		if c.asJSON {
			if err := printJSON(stdout, msg); err != nil {
				return err
			}
			continue
		}
		printBadge(stdout, msg.GetBadge())
	}
}

func printBadge(w io.Writer, b *adjoinv1.Badge) {
	e := b.GetEntity()
	kind := strings.TrimPrefix(strings.ToLower(e.GetKind().String()), "entity_kind_")
	name := e.GetNetbiosDomain() + `\` + e.GetSamAccountName()
	if e.GetDnsHostName() != "" {
		name = e.GetDnsHostName()
	}
	fmt.Fprintf(w, "%s (%s, key %s)\n", name, kind, e.GetKey())
	if !b.GetIntegrationEnabled() {
		fmt.Fprintln(w, "  integration is off on at least one side: badges are greyed")
	}
	for _, sb := range []*adjoinv1.SideBadge{b.GetIdentity(), b.GetEndpoint()} {
		state := "known"
		if !sb.GetKnown() {
			state = "greyed: " + strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(sb.GetGreyedReason().String()), "greyed_reason_"), "_", " ")
		}
		fmt.Fprintf(w, "  %-9s %d alert(s), %d open", sideName(sb.GetSide()), sb.GetTotal(), sb.GetOpen())
		if sb.GetTotal() > 0 {
			fmt.Fprintf(w, ", highest %s, last %s", strings.TrimPrefix(sb.GetHighestSeverity().String(), "SEVERITY_"),
				sb.GetLastAlertTime().AsTime().Format(time.RFC3339))
		}
		fmt.Fprintf(w, " [%s]", state)
		if sb.GetLink() != "" {
			fmt.Fprintf(w, " %s", sb.GetLink())
		}
		fmt.Fprintln(w)
	}
}
