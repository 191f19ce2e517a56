package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/adjoin/adjoin/pkg/authn"
)

// runHealthcheck is the container health check: the images are FROM scratch, with no shell or
// curl, so the adjoin binary in each image probes its service. An http(s) URL must answer 200
// (a service's /readyz; --tls-ca for an https one); anything else is a gRPC address whose standard health service must say
// SERVING (the badge service). The exit code is what Docker reads.
func runHealthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	var c clientFlags
	s := commandSet("healthcheck")
	c.define(s)
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	if len(s.Args()) != 1 {
		return errors.New("usage: adjoin healthcheck [flags] http://HOST:PORT/readyz | HOST:PORT (gRPC health; see --help)")
	}
	target := s.Args()[0]
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
		req, err := http.NewRequestWithContext(cctx, http.MethodGet, target, nil)
		if err != nil {
			return err
		}
		client := http.DefaultClient
		if c.caFile != "" { // an intake serving HTTPS with the deployment's CA
			tc, err := authn.ClientTLS(c.caFile, c.certFile, c.keyFile)
			if err != nil {
				return err
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("unhealthy: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("unhealthy: %s answered %s: %s", target, resp.Status, strings.TrimSpace(string(body)))
		}
		fmt.Fprintln(stdout, "healthy")
		return nil
	}
	c.addr = target
	conn, err := c.conn()
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("unhealthy: %w", c.explain(err))
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("unhealthy: %s is %s", target, resp.GetStatus())
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
