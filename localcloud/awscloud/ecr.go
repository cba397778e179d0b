package awscloud

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/ecrlifecycle"
	"github.com/cutover-dev/cutover/scenarios"
)

// repository is one ECR repository: its images (tags move on push) and
// its lifecycle policy, evaluated after every push. Guarded by Cloud.mu.
type repository struct {
	name       string
	createdAt  time.Time
	policyText string
	policy     *ecrlifecycle.Policy // nil: no policy
	images     []ecrlifecycle.Image
	pushes     int // pushes so far: the next digest's index
	evaluated  time.Time
	preview    *lifecyclePreview
}

// lifecyclePreview is the result of StartLifecyclePolicyPreview.
type lifecyclePreview struct {
	text    string
	expired []ecrlifecycle.Expiry
}

// imageRef is a container image reference split into its parts: the
// repository and either a tag or a digest.
type imageRef struct {
	Repo, Tag, Digest string
}

// parseImage splits REPO:TAG, REPO@sha256:HEX or the same with a
// registry host in front (ACCOUNT.dkr.ecr.REGION.amazonaws.com/…). A
// reference with neither tag nor digest means the tag latest.
func parseImage(s string) imageRef {
	if host, rest, ok := strings.Cut(s, "/"); ok && strings.ContainsAny(host, ".:") {
		s = rest
	}
	if repo, digest, ok := strings.Cut(s, "@"); ok {
		return imageRef{Repo: repo, Digest: digest}
	}
	slash := strings.LastIndex(s, "/")
	if colon := strings.LastIndex(s, ":"); colon > slash {
		return imageRef{Repo: s[:colon], Tag: s[colon+1:]}
	}
	return imageRef{Repo: s, Tag: "latest"}
}

// registryHost is the account's ECR registry host name.
func (c *Cloud) registryHost() string {
	return fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com", c.aws.Account, c.aws.Region)
}

// imageURI writes ref in the full form, with the registry host.
func (c *Cloud) imageURI(ref imageRef) string {
	if ref.Digest != "" {
		return c.registryHost() + "/" + ref.Repo + "@" + ref.Digest
	}
	return c.registryHost() + "/" + ref.Repo + ":" + ref.Tag
}

// digestFor is the digest of a repository's n-th push: deterministic, so a
// scenario's digests are the same on every run.
func digestFor(repo string, n int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s#%d", repo, n))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newRepository builds a repository with its policy parsed.
func newRepository(r scenarios.ECRRepository, created time.Time) (*repository, error) {
	repo := &repository{name: r.Name, createdAt: created, policyText: r.LifecyclePolicy}
	if r.LifecyclePolicy != "" {
		p, err := ecrlifecycle.ParsePolicy(r.LifecyclePolicy)
		if err != nil {
			return nil, fmt.Errorf("repository %q: %w", r.Name, err)
		}
		repo.policy = &p
	}
	return repo, nil
}

// push pushes a new image with tags at time at, moves the tags to it and
// runs the lifecycle policy; it returns the new digest and the images the
// policy expired. c.mu held.
func (c *Cloud) push(repo *repository, tags []string, at time.Time) (string, []ecrlifecycle.Expiry) {
	repo.pushes++
	digest := digestFor(repo.name, repo.pushes)
	repo.images = ecrlifecycle.Push(repo.images, ecrlifecycle.Image{Digest: digest, Tags: slices.Clone(tags), PushedAt: at})
	c.logf("ecr: %s: pushed %s tags %v", repo.name, digest, tags)
	if repo.policy == nil {
		return digest, nil
	}
	repo.evaluated = at
	expired := repo.policy.Evaluate(repo.images, at)
	for _, e := range expired {
		repo.images = slices.DeleteFunc(repo.images, func(im ecrlifecycle.Image) bool { return im.Digest == e.Image.Digest })
		c.logf("ecr: %s: lifecycle rule %d expired %s (tags %v)", repo.name, e.Rule.Priority, e.Image.Digest, e.Image.Tags)
	}
	return digest, expired
}

// lookup finds the image ref names in its repository. c.mu held.
func (c *Cloud) lookup(ref imageRef) (ecrlifecycle.Image, bool) {
	repo, ok := c.repos[ref.Repo]
	if !ok {
		return ecrlifecycle.Image{}, false
	}
	for _, im := range repo.images {
		if (ref.Digest != "" && im.Digest == ref.Digest) || (ref.Digest == "" && slices.Contains(im.Tags, ref.Tag)) {
			return im, true
		}
	}
	return ecrlifecycle.Image{}, false
}

// seedRepositories creates the scenario's repositories and pushes their
// images, then resolves the services' images (their first deployment
// started before the builds), then pushes the builds already in the past;
// it schedules the builds still to come. c.mu held.
func (c *Cloud) seedRepositories(start time.Time) error {
	for _, r := range c.aws.Repositories {
		repo, err := newRepository(r, start)
		if err != nil {
			return err
		}
		c.repos[r.Name] = repo
		c.repoOrder = append(c.repoOrder, r.Name)
		first := start.Add(min(r.Builds.StartAt(), 0)).Add(-time.Duration(len(r.Images)) * time.Second)
		at := first
		for i, im := range r.Images {
			switch {
			case im.Age != 0:
				at = start.Add(-im.Age.D())
			case i > 0:
				at = at.Add(time.Second)
			}
			repo.createdAt = minTime(repo.createdAt, at)
			c.push(repo, im.Tags, at)
		}
	}
	c.resolveInitial(false)
	for _, r := range c.aws.Repositories {
		c.pushBuilds(c.repos[r.Name], r.Builds, start)
	}
	return c.resolveInitial(true)
}

// pushBuilds pushes the builds due at or before the start, at their past
// times, and schedules the others on the clock. c.mu held.
func (c *Cloud) pushBuilds(repo *repository, b scenarios.ECRBuilds, start time.Time) {
	for n := 1; n <= b.Count; n++ {
		offset := b.StartAt() + time.Duration(n-1)*b.Every.D()
		tags := b.BuildTags(n)
		if offset <= 0 {
			repo.createdAt = minTime(repo.createdAt, start.Add(offset))
			c.push(repo, tags, start.Add(offset))
			continue
		}
		c.after(offset, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.push(repo, tags, c.clock.Now())
		})
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
