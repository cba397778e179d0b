package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Builtin returns the YAML of the built-in scenario called name ("smoke"),
// and whether there is one.
func Builtin(name string) ([]byte, bool) {
	if strings.ContainsAny(name, `/\`) {
		return nil, false
	}
	data, err := builtinFS.ReadFile("builtin/" + name + ".yaml")
	if err != nil {
		return nil, false
	}
	return data, true
}

// BuiltinNames lists the built-in scenarios by name, sorted.
func BuiltinNames() []string {
	entries, _ := fs.ReadDir(builtinFS, "builtin") // the embedded directory always exists
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Resolve finds the scenario a command-line argument names: the file at arg,
// or, when arg has no path separator, no .yaml or .yml suffix and no such
// file exists, the built-in scenario of that name. It returns the name to
// parse the scenario under (the path, or "builtin/NAME.yaml") and its YAML.
// A file is read with ReadFile, so a file that is not regular or is too
// large is a *Problems.
func Resolve(arg string) (name string, data []byte, err error) {
	data, err = ReadFile(arg)
	if err == nil {
		return arg, data, nil
	}
	looksLikeName := !strings.ContainsRune(arg, '/') && !strings.ContainsRune(arg, filepath.Separator) &&
		!strings.HasSuffix(arg, ".yaml") && !strings.HasSuffix(arg, ".yml")
	if !looksLikeName || !errors.Is(err, fs.ErrNotExist) {
		return "", nil, err
	}
	if data, ok := Builtin(arg); ok {
		return "builtin/" + arg + ".yaml", data, nil
	}
	return "", nil, fmt.Errorf("scenario %q: no such file and no built-in scenario of that name (built-ins: %s)",
		arg, strings.Join(BuiltinNames(), ", "))
}
