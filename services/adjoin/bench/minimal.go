package bench

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// minimalProcess is the minimal gRPC BadgeService (badgeload.ServeMinimal) running as a
// process of its own, the baseline GetBadge is compared with: the badge service runs as its
// own process, so the fair floor does too, rather than sharing the harness's process, its
// scheduler and its garbage.
type minimalProcess struct {
	child  *child
	conn   *grpc.ClientConn
	client adjoinv1.BadgeServiceClient
}

// startMinimal runs argv (the adjoin binary's hidden bench-minimal-server command, see
// Config.MinimalServer) answering every GetBadge with answer, and returns once a call
// through its client succeeded.
func startMinimal(ctx context.Context, argv []string, answer *adjoinv1.GetBadgeResponse, progress io.Writer) (*minimalProcess, error) {
	if len(argv) == 0 {
		return nil, errors.New("no command to run the minimal gRPC server with (Config.MinimalServer)")
	}
	b, err := proto.Marshal(answer)
	if err != nil {
		return nil, err
	}
	args := append(append([]string(nil), argv[1:]...), "--grpc-addr", "127.0.0.1:0", "--answer", base64.StdEncoding.EncodeToString(b))
	m := &minimalProcess{}
	m.child, _, err = startReady(ctx, argv[0], args, "grpc listening", progress, func(addr string) bool {
		if m.conn == nil {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return false
			}
			m.conn, m.client = conn, adjoinv1.NewBadgeServiceClient(conn)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := m.client.GetBadge(cctx, &adjoinv1.GetBadgeRequest{})
		return err == nil
	})
	if err != nil {
		if m.conn != nil {
			m.conn.Close()
		}
		return nil, err
	}
	return m, nil
}

func (m *minimalProcess) pid() int { return m.child.cmd.Process.Pid }

// stop closes the connection and ends the process (SIGTERM, then SIGKILL after 10s).
func (m *minimalProcess) stop() {
	m.conn.Close()
	m.child.stop()
}
