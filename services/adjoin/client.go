package adjoin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/config"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// clientFlags are the connection settings every client command shares.
type clientFlags struct {
	addr, token, caFile, certFile, keyFile string
	timeout                                time.Duration
	asJSON                                 bool
}

func (c *clientFlags) define(s *config.Set) {
	s.String(&c.addr, "badge-addr", "127.0.0.1:9090", "address of the badge service")
	s.String(&c.token, "token", "", "bearer token, when the service checks tokens")
	s.String(&c.caFile, "tls-ca", "", "CA (PEM) of the service's certificate; enables TLS")
	s.String(&c.certFile, "tls-cert", "", "client certificate (PEM), for mTLS")
	s.String(&c.keyFile, "tls-key", "", "client key (PEM), for mTLS")
	s.Duration(&c.timeout, "timeout", 5*time.Second, "deadline of a call (not of a stream)")
	s.Bool(&c.asJSON, "json", false, "print JSON instead of text")
	// In a service's environment ADJOIN_TLS_CERT is its server certificate: a client's own
	// certificate has variables of its own.
	s.Env("tls-cert", clientCertEnv)
	s.Env("tls-key", clientKeyEnv)
}

// The environment variables of a client certificate (adjoin's client commands, adjoin ingest
// --url), never the server's ADJOIN_TLS_CERT / ADJOIN_TLS_KEY.
const (
	clientCertEnv = "ADJOIN_CLIENT_TLS_CERT"
	clientKeyEnv  = "ADJOIN_CLIENT_TLS_KEY"
)

// parse reads args into a command's settings; it returns done when --help was printed.
func parse(s *config.Set, args []string, stdout io.Writer) (done bool, err error) {
	if err := s.Parse(args, stdout); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	return false, nil
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return false }

func (c *clientFlags) dial() (adjoinv1.BadgeServiceClient, func(), error) {
	conn, err := c.conn()
	if err != nil {
		return nil, nil, err
	}
	return adjoinv1.NewBadgeServiceClient(conn), func() { conn.Close() }, nil
}

// conn is the client connection the badge commands and the health check use.
func (c *clientFlags) conn() (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if c.caFile != "" {
		tc, err := authn.ClientTLS(c.caFile, c.certFile, c.keyFile)
		if err != nil {
			return nil, err
		}
		creds = credentials.NewTLS(tc)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(creds)}
	if c.token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer(c.token)))
	}
	conn, err := grpc.NewClient(c.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("badge-addr %s: %w", c.addr, err)
	}
	return conn, nil
}

// explain turns an RPC error into a sentence an operator can act on. Only UNAVAILABLE says
// the service is unreachable: a service that answered with a refusal (a limit reached, a cursor
// out of range) is up, and its message says what to do.
func (c *clientFlags) explain(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("badge service at %s is unreachable (is `adjoin dev` or adjoin-badge running?): %v", c.addr, status.Convert(err).Message())
	case codes.DeadlineExceeded:
		return fmt.Errorf("badge service at %s did not answer within %s", c.addr, c.timeout)
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("%v (see --token, --tls-cert)", status.Convert(err).Message())
	case codes.NotFound, codes.InvalidArgument:
		return errors.New(st.Message())
	}
	return fmt.Errorf("badge service at %s refused the call: %s (%s)", c.addr, st.Message(), codeName(st.Code()))
}

// codeName is a gRPC code as the gRPC documentation and grpcurl write it: RESOURCE_EXHAUSTED.
func codeName(c codes.Code) string {
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && unicode.IsUpper(r) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func query(name string) *adjoinv1.EntitySelector {
	return &adjoinv1.EntitySelector{Selector: &adjoinv1.EntitySelector_Query{Query: name}}
}

func sideName(s adjoinv1.Side) string {
	return strings.TrimPrefix(strings.ToLower(s.String()), "side_")
}
