package reporters

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/testtool"
)

// mermaidDir holds the Node script that parses a chart with mermaid's own
// parser, and the package.json and package-lock.json that pin mermaid and
// jsdom for it (see its README).
const mermaidDir = "testdata/mermaid"

const mermaidInstall = "npm ci --prefix reporters/testdata/mermaid"

// The compare report's mermaid block parses as an xychart with mermaid's
// own parser (the npm package, run by Node.js), at 60 windows and at 3,600
// (the chart sums them into groups), and a broken block does not, so the
// check cannot pass for a parser that accepts anything. Without node or
// the installed packages the test is skipped, except on CI (CI=true),
// where it fails: .ci/run installs the packages.
func TestCompareMermaidParses(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		mermaidMissing(t, "node (Node.js 20 or later) is missing")
	}
	for _, pkg := range []string{"mermaid", "jsdom"} {
		if _, err := os.Stat(filepath.Join(mermaidDir, "node_modules", pkg, "package.json")); err != nil {
			mermaidMissing(t, "the npm package "+pkg+" is not installed in "+mermaidDir)
		}
	}
	var block60 string
	for _, n := range []int{60, 3600} {
		block := mermaidBlock(t, renderCompare(t, "markdown", cmpRegression(t, n)))
		if n == 60 {
			block60 = block
		}
		out, msg, err := mermaidParse(t, node, block)
		if err != nil {
			t.Errorf("%d windows: mermaid rejects the chart: %v\n%s\n%s", n, err, msg, block)
		} else if out != "xychart" {
			t.Errorf("%d windows: mermaid parsed the chart as %q, want xychart", n, out)
		} else {
			t.Logf("%d windows: mermaid parses the chart (%d characters) as %s", n, len(block), out)
		}
	}

	// The head's line with a word where a number goes.
	lines := strings.Split(block60, "\n")
	last := len(lines) - 1
	if !strings.HasPrefix(lines[last], "    line [0, ") {
		t.Fatalf("the chart's last line is %q, want the head's line", lines[last])
	}
	lines[last] = strings.Replace(lines[last], "[0, ", "[zero, ", 1)
	broken := strings.Join(lines, "\n")
	out, msg, err := mermaidParse(t, node, broken)
	if err == nil {
		t.Fatalf("mermaid accepts a line with a word for a number (it printed %q):\n%s", out, broken)
	}
	if msg == "" {
		t.Errorf("mermaid rejects the broken chart (%v) without a message", err)
	}
	t.Logf("the broken chart is rejected: %s", msg)
}

func mermaidMissing(t *testing.T, why string) {
	t.Helper()
	testtool.Missing(t, why, mermaidInstall)
}

// mermaidBlock returns the text inside md's ```mermaid fence.
func mermaidBlock(t *testing.T, md string) string {
	t.Helper()
	start := strings.Index(md, "```mermaid\n")
	if start < 0 {
		t.Fatal("no mermaid block")
	}
	body, _, ok := strings.Cut(md[start+len("```mermaid\n"):], "\n```")
	if !ok {
		t.Fatal("mermaid block not closed")
	}
	return body
}

// mermaidParse runs testdata/mermaid/parse.mjs on text: the diagram type it
// prints, and when mermaid rejects the text, the parser's message and the
// exit error.
func mermaidParse(t *testing.T, node, text string) (diagramType, msg string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(mermaidDir, "parse.mjs"))
	cmd.Stdin = strings.NewReader(text)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s: no answer in 60 s", filepath.Join(mermaidDir, "parse.mjs"))
	}
	return strings.TrimSpace(stdout.String()), strings.TrimSpace(stderr.String()), err
}
