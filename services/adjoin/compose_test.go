package adjoin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/adjoin/adjoin/pkg/authn"
	"github.com/adjoin/adjoin/pkg/natsx"
	"github.com/adjoin/adjoin/pkg/testkit"
	"github.com/adjoin/adjoin/pkg/testkit/sample"
	"github.com/adjoin/adjoin/services/adjoin/chaos"
)

// TestComposeCluster brings up the top-level docker-compose.yml with deploy/cluster.env, the way
// `make up CLUSTER=1` does: the cluster profile (three
// NATS servers from the local NATS image, R3 streams, two correlators, TLS and per-service NATS
// users), posts real recordings to the DC ingestor from outside, reads a badge over gRPC with
// mTLS from outside, kills the NATS server leading DC_EVENTS while a sender keeps posting (and
// retrying what was not acknowledged), and checks that every line the ingestor acknowledged is
// in the stream exactly once. Senders post over HTTPS with a sender token of `adjoin secrets`;
// a request without one is refused with 401. It needs Docker and the images of `make images`; make
// test-compose runs it (ADJOIN_COMPOSE_E2E=1).
func TestComposeCluster(t *testing.T) {
	if os.Getenv("ADJOIN_COMPOSE_E2E") != "1" {
		t.Skip("SKIPPED: the Compose end-to-end test needs Docker and `make images`; run make test-compose")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	secrets := t.TempDir()
	if out, errOut, code := run(t, "secrets", "--dir", secrets, "--mode", "0644"); code != 0 {
		t.Fatalf("adjoin secrets: %s%s", out, errOut)
	}
	ports, err := chaos.FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	override := filepath.Join(t.TempDir(), "publish-nats.yml")
	// The test reads the streams as admin from outside: it publishes the three NATS client ports
	// on loopback (a deployment publishes none).
	if err := os.WriteFile(override, []byte(fmt.Sprintf(`services:
  nats:
    ports: ["127.0.0.1:%d:4222"]
  nats-2:
    ports: ["127.0.0.1:%d:4222"]
  nats-3:
    ports: ["127.0.0.1:%d:4222"]
`, ports[3], ports[4], ports[5])), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &compose{t: t, project: fmt.Sprintf("adjoine2e%d", os.Getpid()),
		files:   []string{filepath.Join(root, "docker-compose.yml"), override},
		envFile: filepath.Join(root, "deploy", "cluster.env"),
		env: append(os.Environ(), "ADJOIN_SECRETS="+secrets,
			"ADJOIN_LDIF="+filepath.Join(root, "services", "adjoin", "demo", "theshire.ldif"),
			fmt.Sprintf("DC_PORT=%d", ports[0]), fmt.Sprintf("ENDPOINT_PORT=%d", ports[1]), fmt.Sprintf("BADGE_PORT=%d", ports[2]))}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := c.run("logs", "--no-color", "--tail=40")
			t.Logf("compose logs:\n%s", out)
		}
		if out, err := c.run("down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
	})
	began := time.Now()
	c.mustRun("up", "-d")
	for _, svc := range []string{"dcingest", "endpointingest", "correlator", "correlator-2", "badge"} {
		c.waitHealthy(svc, 4*time.Minute)
	}
	t.Logf("cluster profile healthy after %s", time.Since(began).Round(time.Second))

	dcURL, epURL := fmt.Sprintf("https://127.0.0.1:%d", ports[0]), fmt.Sprintf("https://127.0.0.1:%d", ports[1])
	s1 := sample.Read(t, "otrf/host/covenant_dcsync_dcerpc_drsuapi_DsGetNCChanges_2020-08-05020926.json")
	anonymous, sender := intakeClients(t, secrets, "dc-sensor")
	for _, u := range []string{dcURL, epURL} {
		if code, r, err := chaos.Post(context.Background(), anonymous, u+"/v1/events", s1); code != http.StatusUnauthorized || r.Accepted != 0 {
			t.Errorf("post S1 to %s without a token: %d %+v %v, want 401", u, code, r, err)
		}
		if code, r, err := chaos.Post(context.Background(), sender, u+"/v1/events", s1); err != nil || code != http.StatusOK || len(r.Rejected) != 0 {
			t.Fatalf("post S1 to %s as dc-sensor: %d %+v %v", u, code, r, err)
		}
	}
	grpcFlags := []string{fmt.Sprintf("--badge-addr=127.0.0.1:%d", ports[2]), "--tls-ca=" + filepath.Join(secrets, "ca.crt"),
		"--tls-cert=" + filepath.Join(secrets, "grpc-read.crt"), "--tls-key=" + filepath.Join(secrets, "grpc-read.key")}
	testkit.Eventually(t, 60*time.Second, func() error {
		out, errOut, code := run(t, append([]string{"badge", "get"}, append(grpcFlags, `THESHIRE\pgustavo`)...)...)
		if code != 0 || !strings.Contains(out, "identity  1 alert(s)") || !strings.Contains(out, "endpoint  1 alert(s)") {
			return fmt.Errorf("adjoin badge get: %d %s%s", code, out, errOut)
		}
		return nil
	})

	// Security teams read the results as viewer, from inside the deployment. pgustavo has two
	// correlated alerts (the badge above says so), DCSync and the endpoint's, in whichever order
	// the correlator counted them: both are read.
	out := c.mustRun("--profile", "cluster", "--profile", "tools", "run", "--rm", "viewer", "tail", "--all", "--max", "2",
		"correlated.user.S-1-5-21-3669966080-2286457517-972388166-1104")
	if !strings.Contains(out, `"detector":"dcsync"`) {
		t.Errorf("viewer tail: %s", out)
	}

	js := c.admin(secrets, ports[3:])
	stream, err := js.Stream(context.Background(), natsx.StreamDCEvents)
	if err != nil {
		t.Fatal(err)
	}
	before := streamMsgs(t, stream)

	// A sender posts distinct lines of other recordings in batches, retrying a batch until the
	// ingestor acknowledges it, while the leader of DC_EVENTS is killed and started again.
	lines, err := chaos.DistinctLines(0,
		filepath.Join(sample.Dir(t), "otrf/host/empire_over_pth_patch_lsass_2020-09-21221336.sec-sys-sysmon.json"),
		filepath.Join(sample.Dir(t), "otrf/host/empire_shell_samr_EnumDomainUsers_2020-09-21193527.sec-sys-sysmon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sent sync.WaitGroup
	sent.Add(1)
	var result chaos.Sent
	var sendErr error
	var acked []time.Time // when each batch was acknowledged
	posting := &chaos.Sender{URL: dcURL + "/v1/events", Batch: 25, GiveUp: 2 * time.Minute, Client: sender, Progress: func(int) {
		acked = append(acked, time.Now())
		time.Sleep(100 * time.Millisecond) // a steady sender, so that the kill falls mid-stream
	}}
	go func() {
		defer sent.Done()
		result, sendErr = posting.Send(context.Background(), lines)
	}()
	time.Sleep(time.Second)
	leader := streamLeader(t, stream)
	svc := map[string]string{"nats-1": "nats", "nats-2": "nats-2", "nats-3": "nats-3"}[leader]
	if svc == "" {
		t.Fatalf("DC_EVENTS leader %q is not one of the cluster's servers", leader)
	}
	killed := time.Now()
	c.mustRunCmd("docker", "kill", c.container(svc))
	testkit.Eventually(t, 60*time.Second, func() error {
		info, err := stream.Info(context.Background())
		if err != nil {
			return err
		}
		if l := info.Cluster.Leader; l == "" || l == leader {
			return fmt.Errorf("no new leader yet (was %s)", leader)
		}
		return nil
	})
	t.Logf("killed %s (leader of DC_EVENTS); a new leader was elected within %s", leader, time.Since(killed).Round(10*time.Millisecond))
	time.Sleep(2 * time.Second)
	c.mustRunCmd("docker", "start", c.container(svc))
	sent.Wait()
	if sendErr != nil {
		t.Fatalf("sender: %v", sendErr)
	}
	accepted, retries := result.Accepted, result.Retries
	after := 0
	for _, at := range acked {
		if at.After(killed) {
			after++
		}
	}
	t.Logf("sender: %d distinct lines acknowledged in %d batches (%d after the kill), %d batch retries",
		len(accepted), len(acked), after, retries)
	if after == 0 || after == len(acked) {
		t.Errorf("the kill did not fall while the sender was sending (%d of %d batches after it)", after, len(acked))
	}

	want := before + uint64(len(accepted))
	testkit.Eventually(t, 90*time.Second, func() error {
		if got := streamMsgs(t, stream); got != want {
			return fmt.Errorf("DC_EVENTS holds %d messages, want %d (%d before + %d acknowledged lines)", got, want, before, len(accepted))
		}
		return nil
	})
	// The stream is whole on the restarted server too, and the badge still answers.
	c.waitHealthy("badge", time.Minute)
	if out, errOut, code := run(t, append([]string{"status"}, grpcFlags...)...); code != 0 || !strings.Contains(out, "service correlator") {
		t.Errorf("adjoin status: %d %s%s", code, out, errOut)
	}
}

// intakeClients are HTTPS clients of the ingestors trusting the deployment's CA: one without a
// token, and one sending the token `adjoin secrets` wrote for sender.
func intakeClients(t *testing.T, secrets, sender string) (anonymous, withToken *http.Client) {
	t.Helper()
	tc, err := authn.ClientTLS(filepath.Join(secrets, "ca.crt"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(secrets, "intake-"+sender+".token"))
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{TLSClientConfig: tc}
	return &http.Client{Transport: base, Timeout: 90 * time.Second},
		&http.Client{Transport: bearerTransport{base: base, token: strings.TrimSpace(string(token))}, Timeout: 90 * time.Second}
}

// bearerTransport adds a sender's token to every request.
type bearerTransport struct {
	base  http.RoundTripper
	token string
}

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

type compose struct {
	t       *testing.T
	project string
	files   []string
	envFile string // deploy/cluster.env: the cluster profile and its settings
	env     []string
}

func (c *compose) run(args ...string) (string, error) {
	full := []string{"-p", c.project, "--env-file", c.envFile}
	for _, f := range c.files {
		full = append(full, "-f", f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker-compose", append(full, args...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *compose) mustRun(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (c *compose) mustRunCmd(name string, args ...string) {
	c.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (c *compose) container(svc string) string {
	c.t.Helper()
	id := strings.TrimSpace(c.mustRun("ps", "-q", svc))
	if id == "" {
		c.t.Fatalf("no container for %s", svc)
	}
	return id
}

func (c *compose) waitHealthy(svc string, within time.Duration) {
	c.t.Helper()
	id := c.container(svc)
	testkit.Eventually(c.t, within, func() error {
		out, err := exec.Command("docker", "inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", id).CombinedOutput()
		if err != nil {
			return fmt.Errorf("docker inspect %s: %v %s", svc, err, out)
		}
		if s := strings.TrimSpace(string(out)); s != "running healthy" {
			return fmt.Errorf("%s is %s", svc, s)
		}
		return nil
	})
}

// admin connects to the published NATS ports as the admin user, over mTLS.
func (c *compose) admin(secrets string, ports []int) jetstream.JetStream {
	c.t.Helper()
	pass, err := os.ReadFile(filepath.Join(secrets, "nats-admin.password"))
	if err != nil {
		c.t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(secrets, "ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	cert, err := tls.LoadX509KeyPair(filepath.Join(secrets, "nats-admin.crt"), filepath.Join(secrets, "nats-admin.key"))
	if err != nil {
		c.t.Fatal(err)
	}
	var urls []string
	for _, p := range ports {
		urls = append(urls, fmt.Sprintf("tls://localhost:%d", p))
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.UserInfo("admin", strings.TrimSpace(string(pass))),
		nats.Secure(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}),
		nats.MaxReconnects(-1), nats.CustomInboxPrefix("_INBOX_admin"))
	if err != nil {
		c.t.Fatalf("admin connection to NATS: %v", err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return js
}

func streamMsgs(t *testing.T, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

func streamLeader(t *testing.T, s jetstream.Stream) string {
	t.Helper()
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("DC_EVENTS is not replicated on 3 servers: %+v", info.Cluster)
	}
	return info.Cluster.Leader
}
