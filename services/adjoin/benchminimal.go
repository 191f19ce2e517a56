package adjoin

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/badgeload"
	"github.com/adjoin/adjoin/pkg/config"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
	"github.com/adjoin/adjoin/pkg/logx"
)

// BenchMinimalCommand is the hidden command `adjoin bench` runs as a child process: the
// minimal gRPC BadgeService, its baseline for GetBadge, in a process of its own as
// adjoin-badge is, so that neither side shares a process with the harness that loads them.
// It is left out of the usage: nothing but the harness has a use for it.
const BenchMinimalCommand = "bench-minimal-server"

// runBenchMinimal serves the minimal BadgeService until ctx ends, answering every GetBadge
// with the response given in --answer. It logs "grpc listening" with the address, as
// adjoin-badge does, which is how the harness finds the port.
func runBenchMinimal(ctx context.Context, args []string, stdout io.Writer) error {
	var addr, answer string
	s := config.New("adjoin " + BenchMinimalCommand)
	s.String(&addr, "grpc-addr", "127.0.0.1:0", "address to serve gRPC on")
	s.String(&answer, "answer", "", "the GetBadgeResponse to answer every call with, marshalled protobuf in base64 (standard encoding)")
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(answer)
	if err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	resp := &adjoinv1.GetBadgeResponse{}
	if err := proto.Unmarshal(b, resp); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if resp.GetBadge() == nil {
		return fmt.Errorf("answer: no badge in it")
	}
	log, err := logx.New("info", "json")
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Info("grpc listening", zap.String("addr", ln.Addr().String()))
	return badgeload.ServeMinimal(ctx, ln, resp)
}
