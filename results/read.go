package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNewerSchema is returned (wrapped) by Read when run.json was written by a
// newer cutover than this one.
var ErrNewerSchema = errors.New("run record has a newer schema version")

// Read loads dir/run.json. The scenario comes back as compact JSON;
// ScenarioName is taken from it when the record has none (records
// written before scenario_name was). A record whose schema_version is newer than
// SchemaVersion is refused with ErrNewerSchema; a missing directory or
// record gives an error that wraps fs.ErrNotExist and says which is missing.
func Read(dir string) (*Run, error) {
	path := filepath.Join(dir, RecordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrNotExist) {
				return nil, fmt.Errorf("read run record: run directory %q does not exist: %w", dir, err)
			}
			return nil, fmt.Errorf("read run record: %q has no %s (not a run directory?): %w", dir, RecordFile, err)
		}
		return nil, fmt.Errorf("read run record: %w", err)
	}
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("read run record %s: %w", path, err)
	}
	switch {
	case head.SchemaVersion == nil || *head.SchemaVersion < 1:
		return nil, fmt.Errorf("read run record %s: no valid schema_version: not a cutover run record", path)
	case *head.SchemaVersion > SchemaVersion:
		return nil, fmt.Errorf("read run record %s: schema version %d, this cutover reads up to %d; upgrade cutover: %w",
			path, *head.SchemaVersion, SchemaVersion, ErrNewerSchema)
	}
	var run Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("read run record %s: %w", path, err)
	}
	if len(run.Scenario) > 0 {
		var compact bytes.Buffer
		if err := json.Compact(&compact, run.Scenario); err != nil {
			return nil, fmt.Errorf("read run record %s: scenario: %w", path, err)
		}
		run.Scenario = compact.Bytes()
	}
	if run.ScenarioName == "" {
		run.ScenarioName = scenarioName(run.Scenario)
	}
	return &run, nil
}
