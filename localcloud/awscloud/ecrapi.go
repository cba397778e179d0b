package awscloud

import (
	"fmt"
	"slices"

	"github.com/cutover-dev/cutover/internal/ecrlifecycle"
)

// ecrOps are the ECR operations the endpoint serves.
func (c *Cloud) ecrOps() map[string]jsonOp {
	return map[string]jsonOp{
		"DescribeRepositories":        c.describeRepositories,
		"DescribeImages":              c.describeImages,
		"BatchGetImage":               c.batchGetImage,
		"GetLifecyclePolicy":          c.getLifecyclePolicy,
		"StartLifecyclePolicyPreview": c.startLifecyclePolicyPreview,
		"GetLifecyclePolicyPreview":   c.getLifecyclePolicyPreview,
	}
}

// ecrImageID is ECR's ImageIdentifier.
type ecrImageID struct {
	ImageDigest string `json:"imageDigest,omitempty"`
	ImageTag    string `json:"imageTag,omitempty"`
}

// ecrRepoInput is the repository part every image operation takes.
type ecrRepoInput struct {
	RegistryID     string       `json:"registryId"`
	RepositoryName string       `json:"repositoryName"`
	ImageIDs       []ecrImageID `json:"imageIds"`
}

// repo returns the named repository. c.mu held.
func (c *Cloud) repo(name string) (*repository, error) {
	r, ok := c.repos[name]
	if !ok {
		return nil, errorf("RepositoryNotFoundException",
			"The repository with name '%s' does not exist in the registry with id '%s'", name, c.aws.Account)
	}
	return r, nil
}

func (c *Cloud) describeRepositories(body []byte) (any, error) {
	var in struct {
		RepositoryNames []string `json:"repositoryNames"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := in.RepositoryNames
	if len(names) == 0 {
		names = c.repoOrder
	}
	out := []map[string]any{}
	for _, n := range names {
		r, err := c.repo(n)
		if err != nil {
			return nil, err
		}
		out = append(out, map[string]any{
			"repositoryArn":      fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", c.aws.Region, c.aws.Account, r.name),
			"registryId":         c.aws.Account,
			"repositoryName":     r.name,
			"repositoryUri":      c.registryHost() + "/" + r.name,
			"createdAt":          epoch(r.createdAt),
			"imageTagMutability": "MUTABLE",
		})
	}
	return map[string]any{"repositories": out}, nil
}

// ecrImageDetail is DescribeImages' ImageDetail.
type ecrImageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImagePushedAt          epoch    `json:"imagePushedAt"`
	ImageManifestMediaType string   `json:"imageManifestMediaType"`
	ArtifactMediaType      string   `json:"artifactMediaType"`
}

const (
	manifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"
	configMediaType   = "application/vnd.docker.container.image.v1+json"
)

// find returns the repository's images id names, or an error for the
// first that is missing. c.mu held.
func (r *repository) find(id ecrImageID) (ecrlifecycle.Image, bool) {
	for _, im := range r.images {
		if (id.ImageDigest == "" || im.Digest == id.ImageDigest) && (id.ImageTag == "" || slices.Contains(im.Tags, id.ImageTag)) {
			return im, id.ImageDigest != "" || id.ImageTag != ""
		}
	}
	return ecrlifecycle.Image{}, false
}

func (c *Cloud) describeImages(body []byte) (any, error) {
	var in ecrRepoInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	images := r.images
	if len(in.ImageIDs) > 0 {
		images = nil
		for _, id := range in.ImageIDs {
			im, ok := r.find(id)
			if !ok {
				return nil, errorf("ImageNotFoundException",
					"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
					orNull(id.ImageDigest), orNull(id.ImageTag), r.name, c.aws.Account)
			}
			images = append(images, im)
		}
	}
	out := []ecrImageDetail{}
	for _, im := range images {
		out = append(out, ecrImageDetail{
			RegistryID: c.aws.Account, RepositoryName: r.name, ImageDigest: im.Digest, ImageTags: im.Tags,
			ImageSizeInBytes: 50 << 20, ImagePushedAt: epoch(im.PushedAt),
			ImageManifestMediaType: manifestMediaType, ArtifactMediaType: configMediaType,
		})
	}
	return map[string]any{"imageDetails": out}, nil
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// manifest is an image's manifest text (a Docker v2 manifest naming a
// config blob derived from the digest).
func manifest(digest string) string {
	return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"%s","size":1469,"digest":"%s"},"layers":[]}`,
		manifestMediaType, configMediaType, digest)
}

func (c *Cloud) batchGetImage(body []byte) (any, error) {
	var in ecrRepoInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.ImageIDs) == 0 {
		return nil, errorf("InvalidParameterException", "imageIds must not be empty")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	images, failures := []map[string]any{}, []map[string]any{}
	for _, id := range in.ImageIDs {
		im, ok := r.find(id)
		if !ok {
			failures = append(failures, map[string]any{
				"imageId": id, "failureCode": "ImageNotFound", "failureReason": "Requested image not found",
			})
			continue
		}
		images = append(images, map[string]any{
			"registryId": c.aws.Account, "repositoryName": r.name,
			"imageId":       ecrImageID{ImageDigest: im.Digest, ImageTag: id.ImageTag},
			"imageManifest": manifest(im.Digest), "imageManifestMediaType": manifestMediaType,
		})
	}
	return map[string]any{"images": images, "failures": failures}, nil
}

func (c *Cloud) getLifecyclePolicy(body []byte) (any, error) {
	var in ecrRepoInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if r.policy == nil {
		return nil, errorf("LifecyclePolicyNotFoundException",
			"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.name, c.aws.Account)
	}
	out := map[string]any{"registryId": c.aws.Account, "repositoryName": r.name, "lifecyclePolicyText": r.policyText}
	if !r.evaluated.IsZero() {
		out["lastEvaluatedAt"] = epoch(r.evaluated)
	}
	return out, nil
}

// startLifecyclePolicyPreview evaluates the given policy text (or the
// repository's) on the repository's images now; the preview is COMPLETE
// at once.
func (c *Cloud) startLifecyclePolicyPreview(body []byte) (any, error) {
	var in struct {
		RepositoryName      string `json:"repositoryName"`
		LifecyclePolicyText string `json:"lifecyclePolicyText"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	text := in.LifecyclePolicyText
	if text == "" {
		if r.policy == nil {
			return nil, errorf("LifecyclePolicyNotFoundException",
				"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", r.name, c.aws.Account)
		}
		text = r.policyText
	}
	p, err := ecrlifecycle.ParsePolicy(text)
	if err != nil {
		return nil, errorf("InvalidParameterException", "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '%v'", err)
	}
	r.preview = &lifecyclePreview{text: text, expired: p.Evaluate(r.images, c.clock.Now())}
	return map[string]any{"registryId": c.aws.Account, "repositoryName": r.name, "lifecyclePolicyText": text, "status": "IN_PROGRESS"}, nil
}

func (c *Cloud) getLifecyclePolicyPreview(body []byte) (any, error) {
	var in ecrRepoInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.repo(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if r.preview == nil {
		return nil, errorf("LifecyclePolicyPreviewNotFoundException",
			"There is no dry run for the repository with name '%s' in the registry with id '%s'", r.name, c.aws.Account)
	}
	results := []map[string]any{}
	for _, e := range r.preview.expired {
		results = append(results, map[string]any{
			"imageTags": e.Image.Tags, "imageDigest": e.Image.Digest, "imagePushedAt": epoch(e.Image.PushedAt),
			"action": map[string]string{"type": "EXPIRE"}, "appliedRulePriority": e.Rule.Priority,
		})
	}
	return map[string]any{
		"registryId": c.aws.Account, "repositoryName": r.name, "lifecyclePolicyText": r.preview.text,
		"status": "COMPLETE", "previewResults": results,
		"summary": map[string]int{"expiringImageTotalCount": len(results)},
	}, nil
}
