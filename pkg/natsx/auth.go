package natsx

import (
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// authOptions are the credential, TLS and inbox options of o.
func (o ConnectOptions) authOptions() []nats.Option {
	var opts []nats.Option
	switch {
	case o.User != "" && o.PasswordFile != "":
		user, file := o.User, o.PasswordFile
		opts = append(opts, nats.UserInfoHandler(func() (string, string) {
			password, _ := ReadPassword(file) // a bad file fails the connect with an auth error
			return user, password
		}))
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	switch {
	case o.InboxPrefix != "":
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	case o.User != "":
		opts = append(opts, nats.CustomInboxPrefix(UserInbox(o.User)))
	}
	return opts
}

// UserInbox is the inbox prefix of a NATS user: the shipped server config allows each service
// user to subscribe to _INBOX_<user>.> only, so no user can read the replies sent to another.
func UserInbox(user string) string { return "_INBOX_" + user }

// ReadPassword reads a password file: its first line, without surrounding spaces.
func ReadPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	password := strings.TrimSpace(line)
	if password == "" {
		return "", fmt.Errorf("%s: empty password", path)
	}
	return password, nil
}
