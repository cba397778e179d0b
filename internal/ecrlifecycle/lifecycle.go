// Package ecrlifecycle is Amazon ECR's lifecycle policy as ECR evaluates
// it: a repository's images (digest, tags, push time) and the rules that
// expire them, whatever ECS runs (ECR does not look at task definitions:
// containers-roadmap#1078). The local cloud's ECR expires images with it
// (localcloud/awscloud), and the ECS driver's preflight guard (runner/ecs)
// uses it to say how many more pushes an image a service needs survives.
// It is pure: it keeps no clock, and every evaluation takes the time it is
// made at.
package ecrlifecycle

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Image is one image in a repository.
type Image struct {
	// Digest is "sha256:…".
	Digest string
	// Tags are the image's tags; none for an untagged image.
	Tags     []string
	PushedAt time.Time
}

// Tag statuses of a rule's selection.
const (
	TagStatusTagged   = "tagged"
	TagStatusUntagged = "untagged"
	TagStatusAny      = "any"
)

// Count types of a rule's selection.
const (
	// CountImageCountMoreThan keeps the CountNumber most recently pushed
	// images the rule selects and expires the rest.
	CountImageCountMoreThan = "imageCountMoreThan"
	// CountSinceImagePushed expires the images the rule selects that were
	// pushed more than CountNumber days before the evaluation.
	CountSinceImagePushed = "sinceImagePushed"
)

// Rule is one rule of a lifecycle policy, with the action expire (the
// only action the model knows).
type Rule struct {
	Priority    int
	Description string
	// TagStatus is tagged, untagged or any.
	TagStatus string
	// TagPrefixList and TagPatternList (wildcards *) select tagged
	// images: an image matches when every prefix (pattern) matches one of
	// its tags.
	TagPrefixList  []string
	TagPatternList []string
	CountType      string
	// CountNumber is images for imageCountMoreThan, days for
	// sinceImagePushed.
	CountNumber int
}

// Policy is a lifecycle policy: its rules, in any order.
type Policy struct {
	Rules []Rule
}

// Expiry is one image a policy expires, and the rule that expires it.
type Expiry struct {
	Image Image
	Rule  Rule
}

// Validate returns what ECR would refuse in the policy: priorities must be
// unique and at least 1, a tagged rule needs a prefix or a pattern list, a
// rule of tag status any must be the last, only one rule may select
// untagged images, and counts must be positive.
func (p Policy) Validate() error {
	var problems []string
	seen := map[int]bool{}
	untagged := 0
	last := p.sorted()
	for i, r := range last {
		at := fmt.Sprintf("rule %d", r.Priority)
		switch {
		case r.Priority < 1:
			problems = append(problems, at+": rulePriority must be at least 1")
		case seen[r.Priority]:
			problems = append(problems, at+": rulePriority is not unique")
		}
		seen[r.Priority] = true
		switch r.TagStatus {
		case TagStatusTagged:
			if len(r.TagPrefixList) == 0 && len(r.TagPatternList) == 0 {
				problems = append(problems, at+": tagStatus tagged needs tagPrefixList or tagPatternList")
			}
		case TagStatusUntagged:
			untagged++
		case TagStatusAny:
			if i != len(last)-1 {
				problems = append(problems, at+": a rule with tagStatus any must have the highest rulePriority")
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: tagStatus %q: want tagged, untagged or any", at, r.TagStatus))
		}
		if r.CountType != CountImageCountMoreThan && r.CountType != CountSinceImagePushed {
			problems = append(problems, fmt.Sprintf("%s: countType %q: want %s or %s", at, r.CountType, CountImageCountMoreThan, CountSinceImagePushed))
		}
		if r.CountNumber < 1 {
			problems = append(problems, at+": countNumber must be at least 1")
		}
	}
	if untagged > 1 {
		problems = append(problems, "only one rule may select untagged images")
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid lifecycle policy: %s", strings.Join(problems, "; "))
	}
	return nil
}

// sorted returns the rules lowest priority number first: the order ECR
// applies them in.
func (p Policy) sorted() []Rule {
	rules := slices.Clone(p.Rules)
	slices.SortStableFunc(rules, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	return rules
}

// Evaluate returns the images the policy expires at now, oldest push
// first, as ECR's rules work:
//   - rules apply lowest priority number first, and an image is expired
//     by one rule at most;
//   - an image that matches the tag requirements of a rule cannot be
//     expired by a later rule, whether or not that rule expires it;
//   - a rule still counts the images an earlier rule expires (it
//     identifies them as if they were not expired): imageCountMoreThan
//     keeps the CountNumber most recently pushed images it selects.
func (p Policy) Evaluate(images []Image, now time.Time) []Expiry {
	byPush := slices.Clone(images)
	// Most recent first; the digest breaks ties so the order is stable.
	slices.SortStableFunc(byPush, func(a, b Image) int {
		return cmp.Or(b.PushedAt.Compare(a.PushedAt), strings.Compare(a.Digest, b.Digest))
	})
	claimed := map[string]bool{} // matched by an earlier rule
	var out []Expiry
	for _, r := range p.sorted() {
		var selected []Image
		for _, im := range byPush {
			if r.selects(im) {
				selected = append(selected, im)
			}
		}
		for i, im := range selected {
			if !claimed[im.Digest] && r.expires(i, im, now) {
				out = append(out, Expiry{Image: im, Rule: r})
			}
		}
		for _, im := range selected {
			claimed[im.Digest] = true
		}
	}
	slices.SortStableFunc(out, func(a, b Expiry) int {
		return cmp.Or(a.Image.PushedAt.Compare(b.Image.PushedAt), strings.Compare(a.Image.Digest, b.Image.Digest))
	})
	return out
}

// expires says whether the rule expires im, the i-th most recently pushed
// image it selects.
func (r Rule) expires(i int, im Image, now time.Time) bool {
	switch r.CountType {
	case CountImageCountMoreThan:
		return i >= r.CountNumber
	case CountSinceImagePushed:
		return now.Sub(im.PushedAt) > time.Duration(r.CountNumber)*24*time.Hour
	}
	return false
}

// selects says whether the rule's selection matches im.
func (r Rule) selects(im Image) bool {
	switch r.TagStatus {
	case TagStatusAny:
		return true
	case TagStatusUntagged:
		return len(im.Tags) == 0
	case TagStatusTagged:
		if len(im.Tags) == 0 {
			return false
		}
		for _, prefix := range r.TagPrefixList {
			if !slices.ContainsFunc(im.Tags, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
				return false
			}
		}
		for _, pattern := range r.TagPatternList {
			if !slices.ContainsFunc(im.Tags, func(t string) bool { return wildcard(pattern, t) }) {
				return false
			}
		}
		return true
	}
	return false
}

// wildcard matches a tag against an ECR tag pattern, where * stands for
// any run of characters and nothing else is special.
func wildcard(pattern, tag string) bool {
	// path.Match treats ?, [ and \ specially; ECR patterns know only *.
	quoted := strings.NewReplacer(`\`, `\\`, `?`, `\?`, `[`, `\[`).Replace(pattern)
	ok, err := path.Match(quoted, tag)
	return err == nil && ok
}

// Push returns the repository's images after im is pushed: a tag names one
// image in a repository, so the tags im carries leave the images that had
// them (an image left with none is untagged). A digest already there
// gains im's tags instead of a second entry.
func Push(images []Image, im Image) []Image {
	out := make([]Image, 0, len(images)+1)
	found := false
	for _, old := range images {
		old.Tags = slices.DeleteFunc(slices.Clone(old.Tags), func(t string) bool { return slices.Contains(im.Tags, t) })
		if old.Digest == im.Digest {
			found = true
			old.Tags = append(old.Tags, im.Tags...)
		}
		out = append(out, old)
	}
	if !found {
		out = append(out, Image{Digest: im.Digest, Tags: slices.Clone(im.Tags), PushedAt: im.PushedAt})
	}
	return out
}

// PushesLeft says how many more pushes of images like next (its tags; a
// fresh digest each, pushed one after another after every image there)
// the repository takes before the policy expires the image digest: 0 when
// it expires now, and ok false when it is not there or does not expire
// within limit pushes (or is never expired by count).
func (p Policy) PushesLeft(images []Image, digest string, next Image, now time.Time, limit int) (n int, ok bool) {
	if !slices.ContainsFunc(images, func(im Image) bool { return im.Digest == digest }) {
		return 0, false
	}
	repo := slices.Clone(images)
	latest := now
	for _, im := range images {
		if im.PushedAt.After(latest) {
			latest = im.PushedAt
		}
	}
	for n = 0; n <= limit; n++ {
		if slices.ContainsFunc(p.Evaluate(repo, now), func(e Expiry) bool { return e.Image.Digest == digest }) {
			return n, true
		}
		latest = latest.Add(time.Second)
		repo = Push(repo, Image{Digest: fmt.Sprintf("sha256:future-push-%d", n+1), Tags: next.Tags, PushedAt: latest})
	}
	return 0, false
}
