package detect

import (
	"testing"

	"github.com/adjoin/adjoin/pkg/detection"
	adjoinv1 "github.com/adjoin/adjoin/pkg/gen/adjoin/v1"
)

// lmRecordings replays each file, in a parallel subtest, through a fresh set of detectors. A
// file positive names must give exactly one alert of detector, which check then inspects with
// its destination host, actor and source entities (nil when absent); any other file, none.
func lmRecordings(t *testing.T, files []string, newSet func() []detection.Detector, detector string, positive func(file string) bool,
	check func(t *testing.T, file string, a *adjoinv1.Alert, host, actor, source *adjoinv1.EntityRef)) {
	t.Helper()
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			alerts := adjRun(t, newSet(), file)
			if !positive(file) {
				for _, a := range alerts {
					t.Errorf("unexpected alert: %s", a.GetDescription())
				}
				return
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts, want 1", len(alerts))
			}
			a := alerts[0]
			adjCheckCommon(t, a, detector)
			check(t, file, a, adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_DESTINATION_HOST),
				adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_USER, adjoinv1.EntityRole_ENTITY_ROLE_ACTOR),
				adjRef(a, adjoinv1.EntityKind_ENTITY_KIND_COMPUTER, adjoinv1.EntityRole_ENTITY_ROLE_SOURCE_HOST))
		})
	}
}
