package scenarios

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// One default per setting: scenarios resolves every default once, and the
// packages that consume a scenario take the resolved values. These tests
// read the source (grep-level, with go/ast): they collect the defaults
// scenarios applies, then look for the same defaults declared again in the
// consumer packages.

// consumerDirs are the packages that consume a resolved scenario.
var consumerDirs = []string{"../runner", "../localcloud", "../cmd", "../reporters", "../results", "../compare"}

// defaultSet is what scenarios declares: the values it gives each setting
// (by field name, lower case) and the names of its Default* declarations.
type defaultSet struct {
	values map[string][]string // setting → canonical values
	names  map[string]bool     // Default… identifiers
	consts map[string]string   // scenarios' constants → canonical value
}

// scenarioDefaults parses scenarios' own non-test source.
func scenarioDefaults(t *testing.T) defaultSet {
	t.Helper()
	files := parseDir(t, ".")
	ds := defaultSet{values: map[string][]string{}, names: map[string]bool{}, consts: constsOf(files, nil)}
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, name := range declNames(d) {
					if isDefaultName(name) {
						ds.names[name] = true
					}
				}
			case *ast.FuncDecl:
				if d.Body != nil && appliesDefaults(d.Name.Name) {
					ds.collect(d.Body)
				}
			}
		}
	}
	return ds
}

// appliesDefaults reports whether a function of scenarios fills in defaults.
func appliesDefaults(name string) bool {
	return strings.Contains(strings.ToLower(name), "default") || strings.HasPrefix(name, "resolve")
}

// collect records the settings body gives a value: fields of composite
// literals, assignments and setDefault(&x.Field, value) calls.
func (ds defaultSet) collect(body ast.Node) {
	add := func(target ast.Expr, value ast.Expr) {
		name := lastName(target)
		v, ok := evalConst(value, ds.consts, ds.consts)
		if name == "" || !ok || trivial(v) {
			return
		}
		key := strings.ToLower(name)
		if !slices.Contains(ds.values[key], v) {
			ds.values[key] = append(ds.values[key], v)
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			add(n.Key, n.Value)
		case *ast.AssignStmt:
			if len(n.Lhs) == len(n.Rhs) {
				for i := range n.Lhs {
					add(n.Lhs[i], n.Rhs[i])
				}
			}
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "setDefault" && len(n.Args) == 2 {
				if u, ok := n.Args[0].(*ast.UnaryExpr); ok && u.Op == token.AND {
					add(u.X, n.Args[1])
				}
			}
		}
		return true
	})
}

// matches reports whether the setting named name (any case) defaults to v
// in scenarios.
func (ds defaultSet) matches(name, v string) bool {
	return slices.Contains(ds.values[strings.ToLower(name)], v)
}

// namedAfter returns the setting whose default is v and whose name is part
// of ident ("DefaultNATTCPTimeWait" holds "tcptimewait"), if any.
func (ds defaultSet) namedAfter(ident, v string) (string, bool) {
	low := strings.ToLower(ident)
	for setting, vals := range ds.values {
		if strings.Contains(low, setting) && slices.Contains(vals, v) {
			return setting, true
		}
	}
	return "", false
}

// finding is one default a consumer declares again.
type finding struct {
	pos  token.Position
	what string
}

func (f finding) String() string { return fmt.Sprintf("%s:%d: %s", f.pos.Filename, f.pos.Line, f.what) }

// redeclared returns the defaults of ds the files of one consumer package
// declare again:
//   - a package-level Default… constant or variable named like one of
//     scenarios' (DefaultSYNSchedule), or named after a setting and holding
//     that setting's default (DefaultTimeout = 30s: load.timeout);
//   - a fallback, `if x <= 0 { x = V }` (== 0, == "", == nil, len() == 0),
//     that assigns a setting its scenarios default, a scenarios Default…
//     value, or one of the constants above;
//   - a load duration summed from the stages (`d += st.For`), which
//     scenarios resolves.
func redeclared(fset *token.FileSet, files []*ast.File, ds defaultSet) []finding {
	local := constsOf(files, ds.consts)
	var out []finding
	flagged := map[string]bool{} // local Default… constants reported
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range g.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, id := range vs.Names {
					if !isDefaultName(id.Name) {
						continue
					}
					if ds.names[id.Name] {
						out = append(out, finding{fset.Position(id.Pos()), id.Name + " is declared in scenarios too"})
						flagged[id.Name] = true
						continue
					}
					if i >= len(vs.Values) {
						continue
					}
					if v, ok := evalConst(vs.Values[i], local, ds.consts); ok {
						if setting, ok := ds.namedAfter(id.Name, v); ok {
							out = append(out, finding{fset.Position(id.Pos()), fmt.Sprintf("%s = %s is scenarios' default of %s", id.Name, show(v), setting)})
							flagged[id.Name] = true
						}
					}
				}
			}
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.IfStmt:
				if !zeroCheck(n.Cond) {
					return true
				}
				for _, st := range n.Body.List {
					as, ok := st.(*ast.AssignStmt)
					if !ok || as.Tok != token.ASSIGN || len(as.Lhs) != len(as.Rhs) {
						continue
					}
					for i, rhs := range as.Rhs {
						if why, ok := fallbackOf(as.Lhs[i], rhs, local, ds, flagged); ok {
							out = append(out, finding{fset.Position(as.Pos()), why})
						}
					}
				}
			case *ast.RangeStmt:
				if sel, ok := n.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Stages" && sumsFor(n) {
					out = append(out, finding{fset.Position(n.Pos()), "sums the stages into a duration; scenarios resolves load.duration"})
				}
			}
			return true
		})
	}
	return out
}

// fallbackOf reports whether `lhs = rhs` in a zero check assigns a default
// scenarios declares.
func fallbackOf(lhs, rhs ast.Expr, local map[string]string, ds defaultSet, flagged map[string]bool) (string, bool) {
	if sel, ok := unconvert(rhs).(*ast.SelectorExpr); ok {
		if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "scenarios" && isDefaultName(sel.Sel.Name) {
			return "falls back to scenarios." + sel.Sel.Name + ", which the resolved scenario already holds", true
		}
	}
	if id, ok := unconvert(rhs).(*ast.Ident); ok && flagged[id.Name] {
		return "falls back to " + id.Name + ", a default scenarios declares", true
	}
	// A literal only: a constant of another name is a deliberate word of
	// its own (the Cloud Run API's defaults for a request that leaves a
	// field unset are Google's, not the scenario's, though they agree).
	v, ok := evalConst(rhs, nil, nil)
	if !ok || trivial(v) {
		return "", false
	}
	if name := lastName(lhs); name != "" && ds.matches(name, v) {
		return fmt.Sprintf("falls back to %s for %s, scenarios' default", show(v), name), true
	}
	return "", false
}

// unconvert strips the type conversions evalConst sees through.
func unconvert(e ast.Expr) ast.Expr {
	for {
		c, ok := e.(*ast.CallExpr)
		if !ok || len(c.Args) != 1 || !slices.Contains(conversions, exprString(c.Fun)) {
			return e
		}
		e = c.Args[0]
	}
}

// zeroCheck reports whether cond tests a value for its zero: x == 0,
// x <= 0, x < 0, x == "", x == nil, len(x) == 0.
func zeroCheck(cond ast.Expr) bool {
	b, ok := cond.(*ast.BinaryExpr)
	if !ok {
		return false
	}
	switch b.Op {
	case token.EQL, token.LEQ, token.LSS:
	default:
		return false
	}
	switch y := b.Y.(type) {
	case *ast.BasicLit:
		return y.Value == "0" || y.Value == `""`
	case *ast.Ident:
		return y.Name == "nil"
	}
	return false
}

// sumsFor reports whether a range body adds up the stages' For.
func sumsFor(r *ast.RangeStmt) bool {
	found := false
	ast.Inspect(r.Body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && as.Tok == token.ADD_ASSIGN {
			for _, rhs := range as.Rhs {
				ast.Inspect(rhs, func(m ast.Node) bool {
					if s, ok := m.(*ast.SelectorExpr); ok && s.Sel.Name == "For" {
						found = true
					}
					return !found
				})
			}
		}
		return !found
	})
	return found
}

// isDefaultName reports whether an identifier names a default: Default… or
// default….
func isDefaultName(name string) bool {
	return strings.HasPrefix(name, "Default") || strings.HasPrefix(name, "default")
}

// trivial values say nothing about a setting: 0, 1 and "".
func trivial(v string) bool { return v == "0" || v == "1" || v == `""` }

// lastName is the field or variable an expression names: C of a.b.C.
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.StarExpr:
		return lastName(e.X)
	}
	return ""
}

func declNames(g *ast.GenDecl) []string {
	var out []string
	for _, spec := range g.Specs {
		if vs, ok := spec.(*ast.ValueSpec); ok {
			for _, id := range vs.Names {
				out = append(out, id.Name)
			}
		}
	}
	return out
}

// constsOf evaluates the package-level constants of files (one package),
// resolving scenarios.X through ext.
func constsOf(files []*ast.File, ext map[string]string) map[string]string {
	out := map[string]string{}
	var specs []*ast.ValueSpec
	for _, f := range files {
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, s := range g.Specs {
					specs = append(specs, s.(*ast.ValueSpec))
				}
			}
		}
	}
	// Constants may refer to each other in any order: settle in passes.
	for range 4 {
		for _, vs := range specs {
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if v, ok := evalConst(vs.Values[i], out, ext); ok {
						out[id.Name] = v
					}
				}
			}
		}
	}
	return out
}

// units are the time package's duration constants, in nanoseconds.
var units = map[string]float64{
	"Nanosecond": 1, "Microsecond": 1e3, "Millisecond": 1e6, "Second": 1e9, "Minute": 60e9, "Hour": 3600e9,
}

// conversions are the type conversions evalConst sees through.
var conversions = []string{"Duration", "time.Duration", "scenarios.Duration", "int", "int64", "uint64", "float64"}

// evalConst evaluates a constant expression of numbers, strings, time
// units, conversions and named constants (local, or scenarios.X through
// ext) to a canonical string: numbers (durations in nanoseconds) as
// strconv 'g' floats, strings quoted.
func evalConst(e ast.Expr, local, ext map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		switch e.Kind {
		case token.INT, token.FLOAT:
			f, err := strconv.ParseFloat(strings.ReplaceAll(e.Value, "_", ""), 64)
			return num(f), err == nil
		case token.STRING:
			s, err := strconv.Unquote(e.Value)
			return strconv.Quote(s), err == nil
		}
	case *ast.ParenExpr:
		return evalConst(e.X, local, ext)
	case *ast.Ident:
		v, ok := local[e.Name]
		return v, ok
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		switch {
		case !ok:
		case pkg.Name == "time" && units[e.Sel.Name] != 0:
			return num(units[e.Sel.Name]), true
		case pkg.Name == "scenarios":
			v, ok := ext[e.Sel.Name]
			return v, ok
		}
	case *ast.CallExpr:
		if len(e.Args) == 1 && slices.Contains(conversions, exprString(e.Fun)) {
			return evalConst(e.Args[0], local, ext)
		}
	case *ast.BinaryExpr:
		x, okx := evalConst(e.X, local, ext)
		y, oky := evalConst(e.Y, local, ext)
		fx, errx := strconv.ParseFloat(x, 64)
		fy, erry := strconv.ParseFloat(y, 64)
		if !okx || !oky || errx != nil || erry != nil {
			return "", false
		}
		switch e.Op {
		case token.MUL:
			return num(fx * fy), true
		case token.ADD:
			return num(fx + fy), true
		case token.SUB:
			return num(fx - fy), true
		case token.QUO:
			if fy != 0 {
				return num(fx / fy), true
			}
		}
	}
	return "", false
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// show writes a canonical value for people: large whole numbers are
// durations in nanoseconds here (the settings' counts stay below 10⁶).
func show(v string) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 1e6 || f != float64(int64(f)) {
		return v
	}
	return time.Duration(int64(f)).String()
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return ""
}

// parseDir parses the non-test .go files of one directory.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	files, err := parseFiles(token.NewFileSet(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func parseFiles(fset *token.FileSet, dir string) ([]*ast.File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// The collector must see scenarios' defaults, or the scan below would pass
// on nothing.
func TestScenarioDefaultsCollected(t *testing.T) {
	ds := scenarioDefaults(t)
	for setting, v := range map[string]string{
		"timeout":     num(30e9),  // load.timeout
		"maxworkers":  "128",      // load.max_workers
		"window":      num(1e9),   // load.window
		"settle":      num(240e9), // metrics.settle (DefaultMetricsSettle)
		"tcptimewait": num(120e9), // localcloud.nat.tcp_time_wait
		"method":      `"GET"`,    // requests[].method
		"minrequests": "20",       // abort.min_requests (defaultAbortMinRequests)
	} {
		if !ds.matches(setting, v) {
			t.Errorf("scenarios' default of %s = %s not collected; have %v", setting, v, ds.values[setting])
		}
	}
	if !ds.names["DefaultSYNSchedule"] || !ds.names["DefaultMetricsPeriod"] {
		t.Errorf("Default… names collected: %v", ds.names)
	}
}

// TestRedeclaredCatches proves the scan finds a default declared again, and
// stays quiet about values that only look alike.
func TestRedeclaredCatches(t *testing.T) {
	ds := scenarioDefaults(t)
	tests := []struct {
		name string
		src  string
		want []string // what each finding says, in order; nil for none
	}{
		{"a Default constant holding a setting's default", `const DefaultRequestTimeout = 30 * time.Second`,
			[]string{"DefaultRequestTimeout = 30s is scenarios' default of timeout"}},
		{"a Default name scenarios declares", `var DefaultSYNSchedule = []time.Duration{time.Second}`,
			[]string{"DefaultSYNSchedule is declared in scenarios too"}},
		{"a fallback to a literal default", `func f(timeout time.Duration) time.Duration { if timeout <= 0 { timeout = 30 * time.Second }; return timeout }`,
			[]string{"falls back to 30s for timeout, scenarios' default"}},
		{"a fallback to a flagged constant", `const DefaultWindowWidth = time.Second
			func f(width time.Duration) time.Duration { if width == 0 { width = DefaultWindowWidth }; return width }`,
			[]string{"DefaultWindowWidth = 1s is scenarios' default of window", "falls back to DefaultWindowWidth, a default scenarios declares"}},
		{"a fallback to a scenarios default, converted", `func f(m *scenarios.Metrics) { if m.Settle == 0 { m.Settle = scenarios.Duration(scenarios.DefaultMetricsSettle) } }`,
			[]string{"falls back to scenarios.DefaultMetricsSettle, which the resolved scenario already holds"}},
		{"a fallback to a scenarios Default, bare", `func f(d time.Duration) time.Duration { if d <= 0 { d = scenarios.DefaultMetricsPeriod }; return d }`,
			[]string{"falls back to scenarios.DefaultMetricsPeriod, which the resolved scenario already holds"}},
		{"the duration summed from the stages", `func f(l scenarios.Load) (d time.Duration) { for _, st := range l.Stages { d += st.For.D() }; return }`,
			[]string{"sums the stages into a duration; scenarios resolves load.duration"}},
		{"an option of its own that happens to share a value", `const DefaultSaveEvery = 5 * time.Second
			func f(every time.Duration) time.Duration { if every <= 0 { every = DefaultSaveEvery }; return every }`, nil},
		{"a Default constant of another value", `const DefaultCallTimeout = 10 * time.Second`, nil},
		{"a default value outside a fallback", `func f() time.Duration { timeout := 30 * time.Second; return timeout }`, nil},
		{"a ramp that reads the stages", `func f(ss []scenarios.Stage) (t float64) { for _, st := range ss { t += st.For.D().Seconds() }; return }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "x.go", "package x\n"+tt.src, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, fd := range redeclared(fset, []*ast.File{f}, ds) {
				got = append(got, fd.what)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNoConsumerRedeclaresADefault fails when a package that consumes a
// resolved scenario declares a default scenarios also declares.
func TestNoConsumerRedeclaresADefault(t *testing.T) {
	ds := scenarioDefaults(t)
	for _, root := range consumerDirs {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			fset := token.NewFileSet()
			files, err := parseFiles(fset, path)
			if err != nil {
				return err
			}
			for _, f := range redeclared(fset, files, ds) {
				t.Errorf("%s", f)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
