package chaos

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// StreamsResult is what a run of short StreamCorrelated calls got.
type StreamsResult struct {
	// Received counts the calls that saw their first message.
	Received int
	// Failures lists the calls that did not, with their errors.
	Failures []string
}

// ShortStreams makes calls StreamCorrelated calls for the user of SID sid, one after the
// other on one connection, each cancelled as soon as its first message arrives (or after 10 s),
// as a client that polls with a new stream each time does.
func ShortStreams(ctx context.Context, addr, sid string, calls int) (StreamsResult, error) {
	var out StreamsResult
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return out, err
	}
	defer conn.Close()
	client := adjoinv1.NewBadgeServiceClient(conn)
	req := &adjoinv1.StreamCorrelatedRequest{Selectors: []*adjoinv1.EntitySelector{{Selector: &adjoinv1.EntitySelector_Sid{Sid: sid}}}}
	for i := range calls {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			stream, err := client.StreamCorrelated(cctx, req)
			if err != nil {
				return err
			}
			_, err = stream.Recv()
			return err
		}()
		if err != nil {
			out.Failures = append(out.Failures, fmt.Sprintf("call %d: %v", i, err))
			continue
		}
		out.Received++
	}
	return out, nil
}

// ListAlerts returns how many alerts the timeline of the user of SID sid holds in all.
func ListAlerts(ctx context.Context, addr, sid string) (int, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := adjoinv1.NewBadgeServiceClient(conn).ListEntityAlerts(cctx, &adjoinv1.ListEntityAlertsRequest{
		Selector: &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Sid{Sid: sid}},
	})
	if err != nil {
		return 0, err
	}
	return int(res.GetTotalSize()), nil
}
