package results

import "os"

// Update replaces the run.json of an existing run directory with run,
// atomically and synced, as a run's own saves do: for commands that change
// a finished record (`cutover restore`).
func Update(dir string, run *Run) error {
	w := &Writer{dir: dir, sync: (*os.File).Sync}
	return w.Save(run)
}
