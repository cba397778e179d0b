package results

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// maxSlugLen bounds the scenario part of a run id so directory names stay short.
const maxSlugLen = 40

// NewRunID returns a new run id such as "20261123-233658-smoke-3f9a": the
// start time in UTC (so ids sort by start time), the scenario name reduced to
// lower-case letters, digits and dashes, and four random hex digits from
// crypto/rand so two runs started in the same second do not collide.
func NewRunID(now time.Time, name string) string {
	var b [2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error.
	return now.UTC().Format("20060102-150405") + "-" + slug(name) + "-" + hex.EncodeToString(b[:])
}

// slug reduces name to [a-z0-9-], collapsing every other run of characters
// into one dash; an empty result becomes "run".
func slug(name string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
		default:
			dash = true
		}
		if sb.Len() >= maxSlugLen {
			break
		}
	}
	s := strings.TrimRight(sb.String(), "-")
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-")
	}
	if s == "" {
		return "run"
	}
	return s
}
