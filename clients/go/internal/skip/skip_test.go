package skip

import "testing"

func TestOnlyTheNamedTestsMaySkip(t *testing.T) {
	for _, c := range []struct {
		list, test string
		want       bool
	}{
		{"TestA", "TestA", true},
		{"TestB, TestA", "TestA", true},
		{"all", "TestA", true},
		{"", "TestA", false},
		{"TestAB", "TestA", false},
	} {
		if got := Allowed(c.list, c.test); got != c.want {
			t.Errorf("Allowed(%q, %q) = %v, want %v", c.list, c.test, got, c.want)
		}
	}
}
