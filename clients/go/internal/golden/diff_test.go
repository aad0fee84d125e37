package golden

import (
	"strings"
	"testing"
)

func TestDiffReportsEveryKindOfDifference(t *testing.T) {
	want := []byte(`{"a":"00","b":18446744073709551615,"c":true,"gone":1,"l":[{"x":false}]}`)
	same := map[string]any{"a": "00", "b": uint64(18446744073709551615), "c": true, "gone": 1, "l": []any{map[string]any{"x": false}}}
	if d, err := Diff(same, want); err != nil || len(d) != 0 {
		t.Fatalf("equal objects differ: %v %v", d, err)
	}
	got := map[string]any{"a": "01", "b": uint64(18446744073709551614), "c": true, "extra": 2, "l": []any{map[string]any{"x": true}}}
	d, err := Diff(got, want)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(d, "\n")
	for _, field := range []string{"a:", "b:", "extra:", "gone:", "l:"} {
		if !strings.Contains(joined, field) {
			t.Errorf("no difference reported for %s\n%s", field, joined)
		}
	}
	if len(d) != 5 {
		t.Errorf("%d differences, want 5:\n%s", len(d), joined)
	}
}
