package adjoin

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// TestBenchMinimalRefusesBadAnswers: the minimal server refuses to start on an answer that
// would make every GetBadge of the baseline fail or answer nothing. (It serving is covered by
// TestBenchQuick, which runs it as a child process.)
func TestBenchMinimalRefusesBadAnswers(t *testing.T) {
	t.Parallel()
	noBadge, err := proto.Marshal(&adjoinv1.GetBadgeResponse{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, answer, wantErr string
	}{
		{name: "not base64", answer: "%%%", wantErr: "answer: illegal base64"},
		{name: "not a GetBadgeResponse", answer: base64.StdEncoding.EncodeToString([]byte{0xff, 0xff, 0xff}), wantErr: "cannot parse invalid wire-format data"},
		{name: "no badge", answer: base64.StdEncoding.EncodeToString(noBadge), wantErr: "answer: no badge in it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			code := Main(context.Background(), []string{BenchMinimalCommand, "--answer", tt.answer}, &out, &errOut)
			if code != 1 || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut.String(), tt.wantErr)
			}
		})
	}
}
