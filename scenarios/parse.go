package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// LoadFile reads the scenario file at path with ReadFile and parses it with
// Parse. (It is not called Load because Load is the type of the scenario's
// load section.)
func LoadFile(path string) (*Scenario, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses a v1 scenario from data: defaults first, then a strict decode
// of the YAML, then every cross-field rule of Validate. name is the file name
// used in problem positions and stored as Scenario.File.
//
// An invalid scenario returns a *Problems holding every problem found, each
// with its file, line, column and field path. Unknown keys, duplicate keys
// and values of the wrong type are problems, never silently ignored.
func Parse(name string, data []byte) (*Scenario, error) {
	d := &decoder{file: name, written: map[string]*yaml.Node{}}
	root := d.parseYAML(data)
	if root == nil {
		return nil, problemsError(d.problems)
	}
	s := defaultScenario()
	s.File = name
	d.decode(root, reflect.ValueOf(s).Elem(), "")

	// A ramp's duration defaults to the sum of its stages.
	if _, set := d.written["load.duration"]; !set && len(s.Load.Stages) > 0 {
		s.Load.Duration = s.Load.StagesLength()
	}

	// A present localcloud section gets its defaults where a field is
	// unset (zero is never a valid value there).
	if s.LocalCloud.Present() {
		s.LocalCloud.Defaults()
	}
	if s.LocalCloud.AWS.Enabled() {
		s.LocalCloud.AWS.Defaults()
	}

	resolveTarget(s)
	resolveCompare(&s.Compare, s.Name, s.Verdict.MinRequests)
	resolveMetrics(s, func(path string) bool { _, ok := d.written[path]; return ok })

	// A value that failed to decode is left at its default, which would make
	// cross-field rules report it a second time, confusingly; drop those.
	problems := d.problems
	for _, p := range validate(s, d.locate) {
		if !d.failedNear(p.Path) {
			problems = append(problems, p)
		}
	}
	if err := problemsError(problems); err != nil {
		return nil, err
	}
	return s, nil
}

// Defaults of the load section, the one place they are declared: a parsed
// Load holds them where the file says nothing, and the load engine takes
// them from there.
const (
	// DefaultMaxWorkers bounds the open model's concurrent requests. Past
	// what the client can drive, more workers only add connections and
	// scheduling: asked an impossible 50,000/s on 2 cores against loopback
	// (runner/load's BenchmarkImpossibleRate), 8–128 workers achieve
	// 0.88–0.91× of the best closed-loop rate, 512 workers 0.72×, 2048
	// 0.52×, and vegeta's unbounded default 0.34×.
	DefaultMaxWorkers = 128
	// DefaultTimeout bounds one request, connect to last body byte.
	DefaultTimeout = 30 * time.Second
	// DefaultWindow is the width of one timeline window.
	DefaultWindow = time.Second
	// DefaultRevisionHeader is the response header that names the revision.
	DefaultRevisionHeader = "X-Revision"
)

// DefaultLoad returns a Load holding every default of the load section (no
// requests, rate or duration yet), for code that builds a Load instead of
// parsing one.
func DefaultLoad() Load {
	return Load{
		Timeout:        Duration(DefaultTimeout),
		KeepAlive:      true,
		HTTP2:          true,
		MaxWorkers:     DefaultMaxWorkers,
		Window:         Duration(DefaultWindow),
		RevisionHeader: DefaultRevisionHeader,
	}
}

// StagesLength is the sum of the stages' lengths: a ramp's duration when
// the file gives none.
func (l Load) StagesLength() Duration {
	var d Duration
	for _, st := range l.Stages {
		d += st.For
	}
	return d
}

// defaultScenario returns a Scenario holding every default a file may
// override.
func defaultScenario() *Scenario {
	s := &Scenario{
		Load:      DefaultLoad(),
		Verdict:   Verdict{MaxErrors: 0, ObserveAfterAbort: Duration(defaultObserveAfterAbort)},
		Rollback:  RollbackOnFailure,
		Preflight: PreflightWarn,
		Compare:   compareDefaults(),
	}
	return s
}

// setDefaults fills in the defaults of a request before it is decoded.
func (r *Request) setDefaults() {
	r.Method = "GET"
	r.Weight = 1
}

// decoder walks a yaml.Node tree against the Go types by reflection over
// their yaml tags, collecting every problem instead of stopping at the
// first.
type decoder struct {
	file     string
	root     *yaml.Node
	problems []Problem
	// written maps a field path to where it was written: the key of a
	// mapping entry, or the node of a list item.
	written map[string]*yaml.Node
	// failed holds the paths of the problems found while decoding, and
	// failedUnder every strict ancestor of those paths, so that failedNear
	// takes time in the depth of a path, not in the number of problems.
	failed, failedUnder map[string]bool
}

func (d *decoder) addf(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		File: d.file, Line: n.Line, Col: n.Column, Path: path, Msg: fmt.Sprintf(format, args...),
	})
	if d.failed == nil {
		d.failed, d.failedUnder = map[string]bool{}, map[string]bool{}
	}
	d.failed[path] = true
	for p := path; p != ""; {
		p = parentPath(p)
		if d.failedUnder[p] {
			break
		}
		d.failedUnder[p] = true
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses data into a node tree and returns its root, or records
// the problem and returns nil: text that is not YAML, a syntax error, an
// empty file, a second document, or a tree that is too large with its
// aliases expanded (checked here, before anything is decoded).
func (d *decoder) parseYAML(data []byte) *yaml.Node {
	if line, col, msg := checkText(data); msg != "" {
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: col, Msg: "invalid YAML: " + msg})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) || err == nil && len(doc.Content) == 0 {
		d.problems = append(d.problems, Problem{File: d.file, Line: 1, Msg: "empty scenario; start with version: 1"})
		return nil
	}
	if err != nil {
		d.syntaxProblem(data, err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxProblem(data, err)
		return nil
	default:
		d.problems = append(d.problems, Problem{File: d.file, Line: next.Line, Col: next.Column,
			Msg: "a second YAML document; a scenario file holds exactly one (remove the ---)"})
		return nil
	}
	if at, msg := checkTreeSize(doc.Content[0]); at != nil {
		d.problems = append(d.problems, Problem{File: d.file, Line: at.Line, Col: at.Column, Msg: msg})
		return nil
	}
	d.root = doc.Content[0]
	return d.root
}

// syntaxProblem records a YAML syntax error with the line yaml.v3 gives,
// or line 1 when it gives none: every problem of a file has a line.
func (d *decoder) syntaxProblem(data []byte, err error) {
	line, msg := 1, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if strings.Contains(msg, "cannot start any token") && bytes.ContainsRune(data, '\t') {
		msg += " (tabs cannot indent YAML; use spaces)"
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: max(line, 1), Msg: "invalid YAML: " + msg})
}

// locate returns where path, or failing that its nearest written ancestor,
// is in the file.
func (d *decoder) locate(path string) (line, col int) {
	for {
		if n, ok := d.written[path]; ok {
			return n.Line, n.Column
		}
		if path == "" {
			if d.root != nil {
				return d.root.Line, d.root.Column
			}
			return 0, 0
		}
		path = parentPath(path)
	}
}

// failedNear reports whether decoding failed at path, inside it, or at one
// of its ancestors.
func (d *decoder) failedNear(path string) bool {
	if d.failedUnder[path] {
		return true
	}
	for p := path; ; p = parentPath(p) {
		if d.failed[p] {
			return true
		}
		if p == "" {
			return false
		}
	}
}

// parentPath returns "load" for "load.rate" and "load.requests" for
// "load.requests[0]".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode stores n into v, recording a problem for everything that does not
// fit v's type. A null leaves v as it is (at its default).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if t, ok := v.Addr().Interface().(*Threshold); ok && n.Kind == yaml.MappingNode {
		d.decodeThresholdMapping(n, t, path)
		return
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			d.addf(n, path, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		// An optional section: present in the file means allocated, with
		// its defaults, then decoded like any other value.
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if df, ok := v.Interface().(interface{ setDefaults() }); ok {
				df.setDefaults()
			}
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeList(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.addf(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.addf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
			d.addf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		if v.OverflowInt(i) {
			d.addf(n, path, "%s is out of range", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" && n.ShortTag() != "!!float" || n.Decode(&f) != nil {
			d.addf(n, path, "expected a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		d.addf(n, path, "cutover cannot decode a %s here (a bug: the decoder lacks this type)", v.Type())
	}
}

// field is one yaml key of a struct.
type field struct {
	key   string
	index int
	// fraction marks a float64 written as a percentage (5%) or a
	// fraction (0.05): the tag option ",fraction".
	fraction bool
}

// yamlFields lists the keys of struct type t in declaration order, from the
// yaml tags; `yaml:"-"` and unexported fields are not keys. The one tag
// option read is ",fraction".
func yamlFields(t reflect.Type) []field {
	var fields []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		key, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch key {
		case "-":
			continue
		case "":
			key = strings.ToLower(f.Name)
		}
		fields = append(fields, field{key: key, index: i, fraction: opts == "fraction"})
	}
	return fields
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := yamlFields(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	if n.Kind != yaml.MappingNode {
		if path == "" {
			d.addf(n, path, "a scenario is a mapping with keys %s; got %s", strings.Join(keys, ", "), describe(n))
			return
		}
		d.addf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	d.eachEntry(n, path, func(k, val *yaml.Node, kpath string) {
		for _, f := range fields {
			switch {
			case f.key != k.Value:
				continue
			case f.fraction:
				d.decodeFraction(val, v.Field(f.index), kpath)
			default:
				d.decode(val, v.Field(f.index), kpath)
			}
			return
		}
		if k.ShortTag() == "!!merge" {
			d.addf(k, kpath, "merge keys (<<) are not supported; write the keys out")
			return
		}
		d.addf(k, kpath, "unknown key%s; allowed keys are %s", didYouMean(k.Value, keys), strings.Join(keys, ", "))
	})
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.addf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.eachEntry(n, path, func(k, val *yaml.Node, kpath string) {
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, e, kpath)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}

// eachEntry calls fn for every entry of mapping n whose key is a string seen
// for the first time, and records a problem for the others.
func (d *decoder) eachEntry(n *yaml.Node, path string, fn func(k, val *yaml.Node, kpath string)) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, path, "expected a key name, got %s", describe(k))
			continue
		}
		kpath := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.addf(k, kpath, "duplicate key; first set on line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		d.written[kpath] = k
		fn(k, val, kpath)
	}
}

func (d *decoder) decodeList(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.addf(n, path, "expected a list, got %s", describe(n))
		return
	}
	list := reflect.MakeSlice(v.Type(), 0, len(n.Content))
	for i, item := range n.Content {
		e := reflect.New(v.Type().Elem()).Elem()
		if df, ok := e.Addr().Interface().(interface{ setDefaults() }); ok {
			df.setDefaults()
		}
		ipath := fmt.Sprintf("%s[%d]", path, i)
		d.written[ipath] = item
		d.decode(item, e, ipath)
		list = reflect.Append(list, e)
	}
	v.Set(list)
}

// decodeFraction stores a percentage (5%) or a fraction (0.05) into the
// float64 v as a fraction.
func (d *decoder) decodeFraction(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		return
	case n.Kind != yaml.ScalarNode:
		d.addf(n, path, "expected a percentage such as 5%%, got %s", describe(n))
		return
	}
	f, err := parseFraction(n.Value)
	if err != nil {
		d.addf(n, path, "%s", err)
		return
	}
	v.SetFloat(f)
}

// decodeThresholdMapping decodes the long form of a threshold,
// {expr: "status_504 == 0", abort: true}, as strictly as any mapping.
func (d *decoder) decodeThresholdMapping(n *yaml.Node, t *Threshold, path string) {
	var m thresholdMapping
	d.decodeStruct(n, reflect.ValueOf(&m).Elem(), path)
	if _, set := d.written[path+".expr"]; !set {
		d.addf(n, path+".expr", "required; the expression, e.g. expr: \"status_504 == 0\"")
		return
	}
	if d.failedNear(path) {
		return
	}
	parsed, err := ParseThreshold(m.Expr)
	if err != nil {
		d.addf(valueOf(n, "expr"), path+".expr", "%s", err)
		return
	}
	parsed.Abort = m.Abort
	*t = parsed
}

// valueOf returns the value of key in mapping n, or n when there is none.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				return v.Alias
			}
			return v
		}
	}
	return n
}

// describe names what n is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.AliasNode:
		return describe(n.Alias)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		if n.ShortTag() == "!!str" {
			return strconv.Quote(v)
		}
		return v
	}
	return "a document"
}

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// s, if one is close enough to be a likely typo, and "" otherwise.
func didYouMean(s string, candidates []string) string {
	best, bestDist := "", 3 // suggest only within two edits
	for _, c := range candidates {
		if dist := editDistance(strings.ToLower(s), c); dist < bestDist && dist < len(c) {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
