// Package testtool is for tests only: what a test does when a tool it
// runs (xmllint, chromium, node and its pinned packages) is missing. On a
// developer's machine the test is skipped; on CI (CI=true, which .ci/run
// sets after installing every such tool) it fails, so a missing tool
// never passes for a test that ran.
package testtool

import (
	"os"
	"testing"
)

// Missing skips t, or fails it on CI, because of what is missing (why)
// and how to install it.
func Missing(t testing.TB, why, install string) {
	t.Helper()
	if OnCI() {
		t.Fatalf("%s (install: %s); CI installs it (.ci/run), so the test must run", why, install)
	}
	t.Skipf("%s (install: %s)", why, install)
}

// OnCI reports whether the tests run on CI (CI=true).
func OnCI() bool { return os.Getenv("CI") == "true" }
