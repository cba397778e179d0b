package ecrlifecycle

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// builds returns n images pushed an hour apart from t0, digests
// sha256:b1…bn, each tagged by tag(i) (nil for none).
func builds(n int, tag func(i int) []string) []Image {
	var out []Image
	for i := 1; i <= n; i++ {
		out = Push(out, Image{Digest: fmt.Sprintf("sha256:b%d", i), Tags: tag(i), PushedAt: t0.Add(time.Duration(i) * time.Hour)})
	}
	return out
}

func digests(es []Expiry) []string {
	var out []string
	for _, e := range es {
		out = append(out, strings.TrimPrefix(e.Image.Digest, "sha256:"))
	}
	return out
}

// keepLast10 is incident 001's policy: one rule, any image, the last 10.
var keepLast10 = Policy{Rules: []Rule{{Priority: 1, TagStatus: TagStatusAny, CountType: CountImageCountMoreThan, CountNumber: 10}}}

// keepProd is its fix: production images tagged prod-… and kept by a rule
// before the one that keeps 10.
var keepProd = Policy{Rules: []Rule{
	{Priority: 1, TagStatus: TagStatusTagged, TagPrefixList: []string{"prod-"}, CountType: CountImageCountMoreThan, CountNumber: 100},
	{Priority: 2, TagStatus: TagStatusAny, CountType: CountImageCountMoreThan, CountNumber: 10},
}}

func TestEvaluate(t *testing.T) {
	prodFirst := func(i int) []string {
		if i == 1 {
			return []string{"prod-2026.03.01"}
		}
		return []string{fmt.Sprintf("staging-%d", i)}
	}
	now := t0.Add(30 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		policy Policy
		images []Image
		want   []string
	}{
		{"ten builds keep them all", keepLast10, builds(10, prodFirst), nil},
		// The incident: the 11th build expires the digest production runs.
		{"the 11th build expires the first", keepLast10, builds(11, prodFirst), []string{"b1"}},
		{"13 builds expire the three oldest", keepLast10, builds(13, prodFirst), []string{"b1", "b2", "b3"}},
		// The fix: a rule before keeps prod- images, and the any rule
		// cannot expire what an earlier rule's tags matched.
		{"the fix keeps the production image", keepProd, builds(13, prodFirst), []string{"b2", "b3"}},
		{"untagged images older than 7 days", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusUntagged, CountType: CountSinceImagePushed, CountNumber: 7},
		}}, []Image{
			{Digest: "sha256:old", PushedAt: now.Add(-8 * 24 * time.Hour)},
			{Digest: "sha256:new", PushedAt: now.Add(-6 * 24 * time.Hour)},
			{Digest: "sha256:tagged", Tags: []string{"v1"}, PushedAt: now.Add(-20 * 24 * time.Hour)},
		}, []string{"old"}},
		// A later rule counts the images an earlier one expires: rc-2 and
		// rc-1 are beyond rule 1's one, and they still fill rule 2's three,
		// so x goes too.
		{"a rule counts what an earlier rule expires", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusTagged, TagPrefixList: []string{"rc"}, CountType: CountImageCountMoreThan, CountNumber: 1},
			{Priority: 2, TagStatus: TagStatusAny, CountType: CountImageCountMoreThan, CountNumber: 3},
		}}, []Image{
			{Digest: "sha256:x", PushedAt: t0},
			{Digest: "sha256:rc1", Tags: []string{"rc-1"}, PushedAt: t0.Add(time.Hour)},
			{Digest: "sha256:rc2", Tags: []string{"rc-2"}, PushedAt: t0.Add(2 * time.Hour)},
			{Digest: "sha256:rc3", Tags: []string{"rc-3"}, PushedAt: t0.Add(3 * time.Hour)},
		}, []string{"x", "rc1", "rc2"}},
		{"patterns: every pattern matches one tag", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusTagged, TagPatternList: []string{"prod*", "*-eu"}, CountType: CountImageCountMoreThan, CountNumber: 1},
		}}, []Image{
			{Digest: "sha256:a", Tags: []string{"prod-1", "build-eu"}, PushedAt: t0},
			{Digest: "sha256:b", Tags: []string{"prod-2"}, PushedAt: t0.Add(time.Hour)},
			{Digest: "sha256:c", Tags: []string{"prod-3-eu"}, PushedAt: t0.Add(2 * time.Hour)},
			{Digest: "sha256:d", Tags: []string{"pro?-4-eu"}, PushedAt: t0.Add(3 * time.Hour)},
		}, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); err != nil {
				t.Fatal(err)
			}
			if got := digests(tc.policy.Evaluate(tc.images, now)); !slices.Equal(got, tc.want) {
				t.Errorf("expired %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPushMovesTags(t *testing.T) {
	repo := Push(nil, Image{Digest: "sha256:a", Tags: []string{"latest", "v1"}, PushedAt: t0})
	repo = Push(repo, Image{Digest: "sha256:b", Tags: []string{"latest"}, PushedAt: t0.Add(time.Hour)})
	repo = Push(repo, Image{Digest: "sha256:a", Tags: []string{"v1-again"}, PushedAt: t0.Add(2 * time.Hour)})
	want := []Image{
		{Digest: "sha256:a", Tags: []string{"v1", "v1-again"}, PushedAt: t0},
		{Digest: "sha256:b", Tags: []string{"latest"}, PushedAt: t0.Add(time.Hour)},
	}
	if fmt.Sprint(repo) != fmt.Sprint(want) {
		t.Errorf("repository %v, want %v", repo, want)
	}
}

// PushesLeft is the preflight's "expires after N more pushes".
func TestPushesLeft(t *testing.T) {
	prod := func(i int) []string {
		if i == 1 {
			return []string{"prod-1"}
		}
		return nil
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		images []Image
		n      int
		ok     bool
	}{
		{"nine images: two more builds", keepLast10, builds(9, prod), 2, true},
		{"eleven images: expired now", keepLast10, builds(11, prod), 0, true},
		{"the fix: never", keepProd, builds(9, prod), 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := tc.policy.PushesLeft(tc.images, "sha256:b1", Image{Tags: []string{"staging"}}, t0.Add(24*time.Hour), 50)
			if n != tc.n || ok != tc.ok {
				t.Errorf("PushesLeft = %d, %v; want %d, %v", n, ok, tc.n, tc.ok)
			}
		})
	}
	if _, ok := keepLast10.PushesLeft(builds(3, prod), "sha256:gone", Image{}, t0, 50); ok {
		t.Error("a digest that is not there has pushes left")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy Policy
		want   string
	}{
		{"any is not last", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusAny, CountType: CountImageCountMoreThan, CountNumber: 1},
			{Priority: 2, TagStatus: TagStatusUntagged, CountType: CountImageCountMoreThan, CountNumber: 1},
		}}, "rule 1: a rule with tagStatus any must have the highest rulePriority"},
		{"duplicate priority", Policy{Rules: []Rule{
			{Priority: 3, TagStatus: TagStatusUntagged, CountType: CountImageCountMoreThan, CountNumber: 1},
			{Priority: 3, TagStatus: TagStatusTagged, TagPrefixList: []string{"v"}, CountType: CountImageCountMoreThan, CountNumber: 1},
		}}, "rule 3: rulePriority is not unique"},
		{"tagged without a list", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusTagged, CountType: CountImageCountMoreThan, CountNumber: 1},
		}}, "needs tagPrefixList or tagPatternList"},
		{"two untagged rules", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusUntagged, CountType: CountImageCountMoreThan, CountNumber: 1},
			{Priority: 2, TagStatus: TagStatusUntagged, CountType: CountSinceImagePushed, CountNumber: 1},
		}}, "only one rule may select untagged images"},
		{"bad count", Policy{Rules: []Rule{
			{Priority: 1, TagStatus: TagStatusUntagged, CountType: "sinceImagePulled", CountNumber: 0},
		}}, `countType "sinceImagePulled"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
