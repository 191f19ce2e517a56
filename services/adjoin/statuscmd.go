package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	var c clientFlags
	s := commandSet("status")
	c.define(s)
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	client, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st, err := client.GetIntegrationStatus(cctx, &adjoinv1.GetIntegrationStatusRequest{})
	if err != nil {
		return c.explain(err)
	}
	if c.asJSON {
		return printJSON(stdout, st)
	}
	printStatus(stdout, st)
	return nil
}

func runIntegration(ctx context.Context, args []string, stdout io.Writer) error {
	var c clientFlags
	s := commandSet("integration")
	c.define(s)
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	rest := s.Args()
	if len(rest) != 2 || (rest[0] != "on" && rest[0] != "off") || (rest[1] != "identity" && rest[1] != "endpoint") {
		return errors.New("usage: adjoin integration on|off identity|endpoint (see --help)")
	}
	side := adjoinv1.Side_SIDE_IDENTITY
	if rest[1] == "endpoint" {
		side = adjoinv1.Side_SIDE_ENDPOINT
	}
	client, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := client.SetIntegration(cctx, &adjoinv1.SetIntegrationRequest{Side: side, Enabled: rest[0] == "on"})
	if err != nil {
		return c.explain(err)
	}
	if c.asJSON {
		return printJSON(stdout, resp.GetStatus())
	}
	printStatus(stdout, resp.GetStatus())
	return nil
}

func printStatus(w io.Writer, st *adjoinv1.GetIntegrationStatusResponse) {
	state := "ON"
	if !st.GetIntegrationEnabled() {
		state = "OFF (badges greyed)"
	}
	fmt.Fprintf(w, "integration %s   NATS connected: %v\n", state, st.GetNatsConnected())
	for _, side := range []*adjoinv1.SideStatus{st.GetIdentity(), st.GetEndpoint()} {
		toggle := "on"
		if !side.GetEnabled() {
			toggle = "off"
		}
		fmt.Fprintf(w, "  %-9s %-3s  %d events, %d alerts, last data %s", sideName(side.GetSide()), toggle,
			side.GetEvents(), side.GetAlerts(), when(side.GetLastDataReceived()))
		if side.GetChangedBy() != "" {
			fmt.Fprintf(w, ", toggled by %s at %s", side.GetChangedBy(), when(side.GetChangedAt()))
		} else {
			fmt.Fprint(w, ", toggled by unknown")
		}
		if side.GetLastError() != "" {
			fmt.Fprintf(w, ", last error: %s", side.GetLastError())
		}
		fmt.Fprintln(w)
	}
	d := st.GetDirectory()
	fmt.Fprintf(w, "  directory %d entities, last change %s", d.GetEntities(), when(d.GetLastChange()))
	if d.GetLastError() != "" {
		fmt.Fprintf(w, " (%s)", d.GetLastError())
	}
	for _, sy := range d.GetSyncs() {
		fmt.Fprintf(w, "\n    %s: last success %s (%s), %d users, %d computers, %d disabled, %d privileged",
			sy.GetSource(), when(sy.GetLastSuccess()), sy.GetLastKind(), sy.GetUsers(), sy.GetComputers(), sy.GetDisabled(), sy.GetPrivileged())
		if sy.GetLastError() != "" {
			fmt.Fprintf(w, "; failing %d time(s) since, last error %s: %s", sy.GetFailures(), when(sy.GetLastErrorTime()), sy.GetLastError())
		}
	}
	fmt.Fprintf(w, "\n  correlator %d alert(s) waiting, lag %.1fs\n", st.GetAlertsWaiting(), st.GetLagSeconds())
	for _, hb := range st.GetServices() {
		state := "up"
		if hb.GetStopped() {
			state = "stopped"
		} else if time.Since(hb.GetLastSeen().AsTime()) > 30*time.Second {
			state = "silent (crashed or cut off?)"
		}
		fmt.Fprintf(w, "  service %-14s %s %s, last seen %s", hb.GetService(), hb.GetInstance(), state, when(hb.GetLastSeen()))
		if hb.GetLastError() != "" {
			fmt.Fprintf(w, ", last error %s: %s", when(hb.GetLastErrorTime()), hb.GetLastError())
		}
		for i, c := range hb.GetCounters() {
			sep := ", "
			if i == 0 {
				sep = "; "
			}
			fmt.Fprintf(w, "%s%s %d", sep, c.GetName(), c.GetValue())
		}
		fmt.Fprintln(w)
	}
}

func when(t *timestamppb.Timestamp) string {
	if t == nil {
		return "never"
	}
	return t.AsTime().UTC().Format(time.RFC3339)
}

func runAlerts(ctx context.Context, args []string, stdout io.Writer) error {
	var c clientFlags
	var size int
	var page string
	s := commandSet("alerts")
	c.define(s)
	s.Int(&size, "page-size", 20, "alerts per page")
	s.String(&page, "page-token", "", "page token printed at the end of the previous page")
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	if len(s.Args()) != 1 {
		return errors.New("usage: adjoin alerts [flags] NAME (see --help)")
	}
	client, closeConn, err := c.dial()
	if err != nil {
		return err
	}
	defer closeConn()
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := client.ListEntityAlerts(cctx, &adjoinv1.ListEntityAlertsRequest{Selector: query(s.Args()[0]), PageSize: int32(size), PageToken: page})
	if err != nil {
		return c.explain(err)
	}
	if c.asJSON {
		return printJSON(stdout, resp)
	}
	for _, a := range resp.GetAlerts() {
		fmt.Fprintf(stdout, "%s  %-8s %-6s %-11s %s  [%s] %s\n", a.GetLastActivity().AsTime().UTC().Format(time.RFC3339),
			sideName(a.GetSide()), strings.TrimPrefix(a.GetSeverity().String(), "SEVERITY_"),
			strings.TrimPrefix(a.GetStatus().String(), "ALERT_STATUS_"), a.GetTitle(), a.GetDetector(), a.GetId())
	}
	fmt.Fprintf(stdout, "%d of %d alert(s)", len(resp.GetAlerts()), resp.GetTotalSize())
	if resp.GetNextPageToken() != "" {
		fmt.Fprintf(stdout, "; next page: --page-token %s", resp.GetNextPageToken())
	}
	fmt.Fprintln(stdout)
	return nil
}
