package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/adjoin/adjoin/pkg/config"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

func runBadge(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "get" {
		return errors.New(`usage: adjoin badge get [--addr HOST:PORT] [--json] NAME (see --help)`)
	}
	var addr string
	var asJSON bool
	var timeout time.Duration
	s := config.New("adjoin badge get")
	s.String(&addr, "badge-addr", "127.0.0.1:9090", "address of the badge service")
	s.Bool(&asJSON, "json", false, "print the badge as JSON")
	s.Duration(&timeout, "timeout", 5*time.Second, "deadline of the call")
	if err := s.Parse(args[1:], stdout); err != nil {
		if err == config.ErrHelp {
			return nil
		}
		return err
	}
	if len(s.Args()) != 1 {
		return errors.New(`adjoin badge get: want exactly one NAME, for example 'THESHIRE\pgustavo' (see --help)`)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("badge-addr %s: %w", addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := adjoinv1.NewBadgeServiceClient(conn).GetBadge(ctx, &adjoinv1.GetBadgeRequest{
		Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: s.Args()[0]}},
	})
	if err != nil {
		return err
	}
	if asJSON {
		b, err := protojson.MarshalOptions{Multiline: true}.Marshal(resp.GetBadge())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	printBadge(stdout, resp.GetBadge())
	return nil
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
		side := strings.TrimPrefix(strings.ToLower(sb.GetSide().String()), "side_")
		state := "known"
		if !sb.GetKnown() {
			state = "greyed: " + strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(sb.GetGreyedReason().String()), "greyed_reason_"), "_", " ")
		}
		fmt.Fprintf(w, "  %-9s %d alert(s), %d open", side, sb.GetTotal(), sb.GetOpen())
		if sb.GetTotal() > 0 {
			fmt.Fprintf(w, ", highest %s, last %s", strings.TrimPrefix(sb.GetHighestSeverity().String(), "SEVERITY_"),
				sb.GetLastAlertTime().AsTime().Format(time.RFC3339))
		}
		fmt.Fprintf(w, " [%s]\n", state)
	}
}
