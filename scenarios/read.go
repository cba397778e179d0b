package scenarios

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileSize is the largest scenario file ReadFile reads, 1 MiB. A
// scenario is a few kilobytes; the bound keeps the YAML node tree of a
// hostile file (about 100 bytes of memory per byte of input) well under
// 200 MB.
const MaxFileSize = 1 << 20

// ReadFile reads the scenario file at path. Anything but a regular file (a
// directory, a named pipe, a device such as /dev/zero) and anything larger
// than MaxFileSize is refused with a *Problems naming the file, before a
// byte is read: the file is checked with stat, opened without blocking (a
// named pipe swapped in after the check cannot hang the open), checked
// again, and read through a limit, so a file that grows meanwhile is still
// capped. Other errors are wrapped ("read scenario: …") and keep their
// cause, such as fs.ErrNotExist.
func ReadFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	if err := checkScenarioFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	if err := checkScenarioFile(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fileProblem(path, "is larger than 1 MiB; a scenario file is at most 1 MiB (%d bytes)", MaxFileSize)
	}
	return data, nil
}

// checkScenarioFile refuses what fi says is not a regular file of at most
// MaxFileSize.
func checkScenarioFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fileProblem(path, "not a regular file (%s); a scenario is a YAML file of at most 1 MiB", describeFileType(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return fileProblem(path, "%d bytes is too large; a scenario file is at most 1 MiB (%d bytes)", fi.Size(), MaxFileSize)
	}
	return nil
}

func fileProblem(path, format string, args ...any) error {
	return &Problems{List: []Problem{{File: path, Msg: fmt.Sprintf(format, args...)}}}
}

// describeFileType names the type of a file that is not a regular one.
func describeFileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a plain file"
}
