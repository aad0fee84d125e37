// Package skip is the project's skip policy for Go tests (as coinjecture_test_utils::skip in
// Rust and tests/conftest.py in Python): a test that cannot run here fails, unless the
// environment variable COINJECTURE_ALLOW_SKIP names it (comma-separated test names, or "all").
// So a missing tool or an unset variable cannot turn the suite green unnoticed.
package skip

import (
	"os"
	"strings"
	"testing"
)

// AllowSkip is the variable that lets named tests skip.
const AllowSkip = "COINJECTURE_ALLOW_SKIP"

// Allowed reports whether list (the variable's value) names test, or is "all".
func Allowed(list, test string) bool {
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name == test || name == "all" {
			return true
		}
	}
	return false
}

// Unless skips t when COINJECTURE_ALLOW_SKIP names it, and fails it otherwise, saying why it
// cannot run.
func Unless(t testing.TB, reason string) {
	t.Helper()
	if Allowed(os.Getenv(AllowSkip), t.Name()) {
		t.Skipf("%s (allowed by %s)", reason, AllowSkip)
	}
	t.Fatalf("%s cannot run here: %s. Provide what it needs, or set %s=%s to let it skip", t.Name(), reason, AllowSkip, t.Name())
}
