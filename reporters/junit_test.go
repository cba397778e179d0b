package reporters

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/cutover-dev/cutover/internal/testtool"
)

// junitSchema is the Jenkins xUnit plugin's JUnit schema; see
// testdata/junit-10.xsd.LICENSE for where it comes from.
const junitSchema = "testdata/junit-10.xsd"

// Every fixture's JUnit validates against junit-10.xsd with xmllint. Without
// xmllint the test is skipped, except on CI (CI=true), where it fails:
// .ci/run installs it.
func TestJUnitValidatesAgainstXunitSchema(t *testing.T) {
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		testtool.Missing(t, "xmllint is missing", "Debian: apt-get install libxml2-utils")
	}
	dir := t.TempDir()
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JUnit(&buf, fx.run()); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fx.name+".xml")
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(xmllint, "--noout", "--schema", junitSchema, path).CombinedOutput()
			if err != nil {
				t.Errorf("xmllint --schema %s: %v\n%s\n%s", junitSchema, err, out, buf.String())
			}
		})
	}
}

// junitAllowed is what junit-10.xsd lets each element carry: its
// attributes and child elements. The structural test below holds the
// reports to it where xmllint is not installed.
var junitAllowed = map[string]struct{ attrs, children []string }{
	"testsuites": {[]string{"name", "time", "tests", "failures", "errors"}, []string{"testsuite"}},
	"testsuite": {[]string{"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp",
		"hostname", "id", "package", "file", "log", "url", "version"}, []string{"testsuite", "properties", "testcase", "system-out", "system-err"}},
	"properties": {nil, []string{"property"}},
	"property":   {[]string{"name", "value"}, nil},
	"testcase":   {[]string{"name", "time", "classname", "group"}, []string{"skipped", "error", "failure", "system-out", "system-err"}},
	"failure":    {[]string{"type", "message"}, nil},
	"error":      {[]string{"type", "message"}, nil},
	"skipped":    {[]string{"type", "message"}, nil},
	"system-out": {nil, nil},
	"system-err": {nil, nil},
}

// junitRequired are the attributes junit-10.xsd requires.
var junitRequired = map[string][]string{
	"testsuite": {"name", "tests", "failures", "errors"},
	"property":  {"name", "value"},
	"testcase":  {"name"},
}

// Every element and attribute of every fixture's JUnit is one junit-10.xsd
// allows where it is, with the attributes it requires, and the root is
// testsuites.
func TestJUnitStructure(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := JUnit(&buf, fx.run()); err != nil {
				t.Fatal(err)
			}
			dec := xml.NewDecoder(&buf)
			var stack []string
			for {
				tok, err := dec.Token()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatal(err)
					}
					break
				}
				switch el := tok.(type) {
				case xml.StartElement:
					name := el.Name.Local
					allowed, ok := junitAllowed[name]
					switch {
					case !ok:
						t.Errorf("element %s is not in junit-10.xsd", name)
					case len(stack) == 0 && name != "testsuites":
						t.Errorf("root element %s, want testsuites", name)
					case len(stack) > 0 && !slices.Contains(junitAllowed[stack[len(stack)-1]].children, name):
						t.Errorf("%s may not hold %s", stack[len(stack)-1], name)
					}
					have := map[string]bool{}
					for _, a := range el.Attr {
						have[a.Name.Local] = true
						if !slices.Contains(allowed.attrs, a.Name.Local) {
							t.Errorf("%s has attribute %s, which junit-10.xsd does not allow", name, a.Name.Local)
						}
						if a.Name.Local == "time" && (name == "testsuite" || name == "testsuites") && !surefireTime.MatchString(a.Value) {
							t.Errorf("%s time=%q is not a SUREFIRE_TIME", name, a.Value)
						}
					}
					for _, a := range junitRequired[name] {
						if !have[a] {
							t.Errorf("%s lacks the required attribute %s", name, a)
						}
					}
					stack = append(stack, name)
				case xml.EndElement:
					stack = stack[:len(stack)-1]
				}
			}
		})
	}
}

// surefireTime is junit-10.xsd's SUREFIRE_TIME, the type of a testsuite's
// and the testsuites' time.
var surefireTime = regexp.MustCompile(`^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?$`)
