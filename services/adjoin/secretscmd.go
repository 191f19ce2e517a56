package adjoin

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

func runSecrets(_ context.Context, args []string, stdout io.Writer) error {
	var o SecretsOptions
	var mode string
	s := commandSet("secrets")
	s.String(&o.Dir, "dir", "secrets", "directory to write into (git-ignored; never commit it)")
	s.Env("dir", "ADJOIN_SECRETS_DIR") // not ADJOIN_DIR: adjoin dev has a --dir too
	s.Bool(&o.Force, "force", false, "replace existing secrets: a new CA, certificates and passwords")
	s.Bool(&o.RotatePasswords, "rotate-passwords", false, "write new NATS passwords and hashes and new intake sender tokens only, keeping the CA and certificates")
	s.String(&mode, "mode", "0600", "file mode of private keys and passwords (0640 or 0644 when containers run as another user)")
	if done, err := parse(s, args, stdout); done || err != nil {
		return err
	}
	m, err := strconv.ParseUint(mode, 8, 32)
	if err != nil || m&^0o777 != 0 || m&0o400 == 0 {
		return fmt.Errorf("mode: %q, want an octal file mode readable by its owner, such as 0600", mode)
	}
	o.Mode = fs.FileMode(m)
	if o.Dir == "" {
		return fmt.Errorf("dir: required")
	}
	files, err := WriteSecrets(o)
	for _, f := range files {
		fmt.Fprintln(stdout, "wrote", f)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
NATS:  the server needs ca.crt, nats-server.crt, nats-server.key and nats-passwords.conf from
       %[1]s in /etc/nats/secrets (see deploy/nats/nats.conf); each service logs in with --nats-user <user> --nats-password-file nats-<user>.password
       --nats-ca-file ca.crt --nats-cert-file nats-<user>.crt --nats-key-file nats-<user>.key;
       then provision as admin: adjoin provision --nats-user admin --nats-password-file ...
gRPC:  adjoin-badge --tls-cert badge-grpc.crt --tls-key badge-grpc.key --tls-client-ca ca.crt
       --admin-cns %[2]s; clients use grpc-admin.* or grpc-read.* with --tls-ca ca.crt
Intake: adjoin-dcingest and adjoin-endpointingest --tls-cert intake.crt --tls-key intake.key
       --tokens-file intake-tokens; senders post over HTTPS with the CA ca.crt and
       "Authorization: Bearer <token>", the token of intake-<sender>.token (%[3]s), e.g.
       adjoin ingest dc --url https://dcingest:8081 --tls-ca ca.crt --token-file intake-dc-sensor.token FILE
`, o.Dir, grpcAdminCN, strings.Join(intakeSenders, ", "))
	return nil
}
