package ecs

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/cutover-dev/cutover/internal/ecrlifecycle"
	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/runner/correlate"
)

// PushLimit is how many future pushes the preflight guard looks ahead: an
// image the lifecycle policy keeps for more pushes than that is safe.
const PushLimit = 20

// The remedies of incident 001, for an image that is gone or will be.
var (
	remedyRedeploy = "Redeploy with an image that exists in ECR"
	remediesKeep   = []string{
		"Keep more images in the lifecycle policy (countNumber) or expire by age",
		"Tag production images (e.g. prod-*) and give them a rule of their own so only unused images expire",
		"Push staging builds to their own repository",
		"Deploy production more often",
	}
)

// consequence is the evidence sentence that says why a missing image
// matters.
const consequence = "A task started from it fails with CannotPullContainerError, so ECS cannot replace a task that stops (a failed health check, a scale-out): the service dwindles to the tasks it has."

// imageUse is an image and what names it ("Task definition app:3
// (running)", "The image to deploy").
type imageUse struct {
	image string
	by    []string
}

// CheckImages checks the ECR images of the task definitions the service's
// deployments run, of the one a rollback returns to (the revision before
// the PRIMARY one, when it is ACTIVE) and newImages: an image ECR does not
// have (BatchGetImage) or that its repository's lifecycle policy expires
// at its next evaluation is an image-missing finding, one the policy
// expires within PushLimit pushes like the repository's newest an
// image-at-risk finding; an image of a repository without a policy is
// safe. The policy is evaluated here (internal/ecrlifecycle); one the
// model does not know is previewed by ECR instead
// (StartLifecyclePolicyPreview), which says what happens now but not in
// how many pushes. Images outside ECR are not checked.
func (d *Driver) CheckImages(ctx context.Context, newImages []string) ([]results.Finding, error) {
	uses, err := d.imageUses(ctx, newImages)
	if err != nil {
		return nil, fmt.Errorf("check the images of service %s: %w", d.Name(), err)
	}
	var findings []results.Finding
	for _, u := range uses {
		ref, ok := parseECR(u.image)
		if !ok {
			continue
		}
		f, err := d.checkImage(ctx, ref, u)
		if err != nil {
			return nil, fmt.Errorf("check the images of service %s: image %s: %w", d.Name(), u.image, err)
		}
		if f != nil {
			findings = append(findings, *f)
		}
	}
	return findings, nil
}

// imageUses lists the images to check, each once with all that name it,
// in the order first named.
func (d *Driver) imageUses(ctx context.Context, newImages []string) ([]imageUse, error) {
	svc, err := d.describe(ctx)
	if err != nil {
		return nil, err
	}
	var uses []imageUse
	add := func(image, by string) {
		for i := range uses {
			if uses[i].image == image {
				uses[i].by = append(uses[i].by, by)
				return
			}
		}
		uses = append(uses, imageUse{image: image, by: []string{by}})
	}
	running, err := d.runningDigests(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, dep := range svc.Deployments {
		rev := lastSegment(aws.ToString(dep.TaskDefinition))
		if seen[rev] {
			continue
		}
		seen[rev] = true
		td, _, err := d.taskDefinition(ctx, rev)
		if err != nil {
			return nil, err
		}
		for _, c := range td.ContainerDefinitions {
			image := aws.ToString(c.Image)
			if digest := running[rev+"/"+aws.ToString(c.Name)]; digest != "" {
				// ECS resolved the tag when the deployment started; a
				// replacement pulls that digest, whatever the tag names now.
				short := image[strings.LastIndexByte(image, '/')+1:]
				add(pinDigest(image, digest), "task definition "+rev+" (running; ECS resolved its image "+short+" to this digest when the deployment started)")
				continue
			}
			add(image, "task definition "+rev+" (running)")
		}
	}
	if prev := previousRevision(runningRevision(svc)); prev != "" && !seen[prev] {
		td, _, err := d.taskDefinition(ctx, prev)
		var apiErr smithy.APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ClientException":
			// No such revision: nothing to roll back to.
		case err != nil:
			return nil, err
		case td.Status == "ACTIVE":
			for _, c := range td.ContainerDefinitions {
				add(aws.ToString(c.Image), "task definition "+prev+" (the rollback target)")
			}
		}
	}
	for _, im := range newImages {
		add(im, "the image to deploy")
	}
	return uses, nil
}

// runningDigests returns the image digest each container of the
// service's running tasks runs, by "FAMILY:REV/CONTAINER".
func (d *Driver) runningDigests(ctx context.Context) (map[string]string, error) {
	arns, err := d.listTasks(ctx, types.DesiredStatusRunning)
	if err != nil {
		return nil, err
	}
	tasks, err := d.describeTasks(ctx, arns)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range tasks {
		rev := lastSegment(aws.ToString(t.TaskDefinitionArn))
		for _, c := range t.Containers {
			if dg := aws.ToString(c.ImageDigest); dg != "" {
				out[rev+"/"+aws.ToString(c.Name)] = dg
			}
		}
	}
	return out, nil
}

// pinDigest returns image (REPOSITORY:TAG or REPOSITORY@DIGEST) as
// REPOSITORY@digest.
func pinDigest(image, digest string) string {
	repo := image
	if i := strings.LastIndexByte(repo, '@'); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndexByte(repo, ':'); i > strings.LastIndexByte(repo, '/') {
		repo = repo[:i]
	}
	return repo + "@" + digest
}

// previousRevision returns FAMILY:(N-1) of FAMILY:N, or "" for the first.
func previousRevision(rev string) string {
	i := strings.LastIndexByte(rev, ':')
	if i < 0 {
		return ""
	}
	n, err := strconv.Atoi(rev[i+1:])
	if err != nil || n <= 1 {
		return ""
	}
	return fmt.Sprintf("%s:%d", rev[:i], n-1)
}

// ecrRef is an ECR image reference.
type ecrRef struct {
	registry, region, repository, tag, digest string
}

// ecrImage matches ACCOUNT.dkr.ecr.REGION.amazonaws.com/REST.
var ecrImage = regexp.MustCompile(`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(.+)$`)

// parseECR reads an ECR image: REPO, REPO:TAG, REPO@sha256:… or
// REPO:TAG@sha256:… after the registry (no tag nor digest: latest).
func parseECR(image string) (ecrRef, bool) {
	m := ecrImage.FindStringSubmatch(image)
	if m == nil {
		return ecrRef{}, false
	}
	ref := ecrRef{registry: m[1], region: m[2], repository: m[3]}
	if i := strings.IndexByte(ref.repository, '@'); i >= 0 {
		ref.repository, ref.digest = ref.repository[:i], ref.repository[i+1:]
	}
	if i := strings.LastIndexByte(ref.repository, ':'); i > strings.LastIndexByte(ref.repository, '/') {
		ref.repository, ref.tag = ref.repository[:i], ref.repository[i+1:]
	}
	if ref.tag == "" && ref.digest == "" {
		ref.tag = "latest"
	}
	return ref, ref.repository != ""
}

// ecrOptions points an ECR call at the image's region when it is not the
// driver's (against AWS only: the local cloud is one endpoint).
func (d *Driver) ecrOptions(ref ecrRef) []func(*ecr.Options) {
	if d.endpoint != "" || ref.region == d.region {
		return nil
	}
	return []func(*ecr.Options){func(o *ecr.Options) { o.Region = ref.region }}
}

// checkImage checks one image; nil when it is safe.
func (d *Driver) checkImage(ctx context.Context, ref ecrRef, u imageUse) (*results.Finding, error) {
	named := fmt.Sprintf("%s %s %s", sentence(u.by), verb(u.by), u.image)
	digest, missing, err := d.batchGetImage(ctx, ref)
	if err != nil {
		return nil, err
	}
	if missing != "" {
		return &results.Finding{Cause: correlate.CauseImageMissing, Confidence: correlate.ConfidenceHigh,
			Evidence: []string{named + "; " + missing + ".", consequence},
			Remedy:   append([]string{remedyRedeploy}, remediesKeep...)}, nil
	}
	text, err := d.lifecyclePolicy(ctx, ref)
	if err != nil || text == "" {
		return nil, err
	}
	policy, err := ecrlifecycle.ParsePolicy(text)
	if err != nil {
		// A policy beyond the model (an archive transition, say): ask ECR
		// what it would do now, without a count of pushes.
		return d.previewFinding(ctx, ref, digest, named, err)
	}
	images, err := d.repositoryImages(ctx, ref)
	if err != nil {
		return nil, err
	}
	return d.lifecycleFinding(policy, images, digest, ref, named), nil
}

// lifecycleFinding is the finding of an image the policy expires now or
// within PushLimit pushes like the newest one, or nil.
func (d *Driver) lifecycleFinding(policy ecrlifecycle.Policy, images []ecrlifecycle.Image, digest string, ref ecrRef, named string) *results.Finding {
	now := d.now()
	var newest ecrlifecycle.Image
	for _, im := range images {
		if im.PushedAt.After(newest.PushedAt) {
			newest = im
		}
	}
	n, ok := policy.PushesLeft(images, digest, ecrlifecycle.Image{Tags: newest.Tags}, now, PushLimit)
	if !ok {
		return nil
	}
	if n == 0 {
		rule := ""
		for _, e := range policy.Evaluate(images, now) {
			if e.Image.Digest == digest {
				rule = ", by " + ruleText(e.Rule)
			}
		}
		return &results.Finding{Cause: correlate.CauseImageMissing, Confidence: correlate.ConfidenceHigh,
			Evidence: []string{fmt.Sprintf("%s; the lifecycle policy of repository %s expires it at its next evaluation%s.", named, ref.repository, rule), consequence},
			Remedy:   append([]string{remedyRedeploy}, remediesKeep...)}
	}
	pushes := fmt.Sprintf("%d more pushes", n)
	if n == 1 {
		pushes = "1 more push"
	}
	var rules []string
	for _, r := range policy.Rules {
		rules = append(rules, ruleText(r))
	}
	like := "untagged, like the newest image"
	if len(newest.Tags) > 0 {
		like = "tagged like the newest image, " + strings.Join(newest.Tags, ", ")
	}
	return &results.Finding{Cause: correlate.CauseImageAtRisk, Confidence: correlate.ConfidenceMedium,
		Evidence: []string{
			fmt.Sprintf("%s; it expires after %s, under the lifecycle policy of repository %s.", named, pushes, ref.repository),
			fmt.Sprintf("Repository %s holds %d images under %s; each push counted is %s.", ref.repository, len(images), strings.Join(rules, ", "), like),
		},
		Remedy: remediesKeep}
}

// batchGetImage looks the image up: its digest when ECR has it, else
// missing says that it does not.
func (d *Driver) batchGetImage(ctx context.Context, ref ecrRef) (digest, missing string, err error) {
	id := ecrtypes.ImageIdentifier{}
	if ref.digest != "" {
		id.ImageDigest = aws.String(ref.digest)
	} else {
		id.ImageTag = aws.String(ref.tag)
	}
	out, err := call(ctx, d, d.ecrAPI, func(ctx context.Context) (*ecr.BatchGetImageOutput, error) {
		return d.ecr.BatchGetImage(ctx, &ecr.BatchGetImageInput{
			RegistryId: aws.String(ref.registry), RepositoryName: aws.String(ref.repository), ImageIds: []ecrtypes.ImageIdentifier{id},
		}, d.ecrOptions(ref)...)
	})
	var notFound *ecrtypes.RepositoryNotFoundException
	switch {
	case errors.As(err, &notFound):
		return "", fmt.Sprintf("ECR has no repository %s (BatchGetImage: RepositoryNotFoundException)", ref.repository), nil
	case err != nil:
		return "", "", fmt.Errorf("BatchGetImage: %w", err)
	}
	for _, f := range out.Failures {
		switch f.FailureCode {
		case ecrtypes.ImageFailureCodeImageNotFound, ecrtypes.ImageFailureCodeImageTagDoesNotMatchDigest:
			return "", fmt.Sprintf("ECR has no such image in repository %s (BatchGetImage: %s)", ref.repository, f.FailureCode), nil
		default:
			return "", "", fmt.Errorf("BatchGetImage: %s: %s", f.FailureCode, aws.ToString(f.FailureReason))
		}
	}
	if len(out.Images) == 0 || out.Images[0].ImageId == nil {
		return "", fmt.Sprintf("ECR has no such image in repository %s (BatchGetImage returned none)", ref.repository), nil
	}
	return aws.ToString(out.Images[0].ImageId.ImageDigest), "", nil
}

// lifecyclePolicy returns the repository's lifecycle policy text, "" when
// it has none.
func (d *Driver) lifecyclePolicy(ctx context.Context, ref ecrRef) (string, error) {
	out, err := call(ctx, d, d.ecrAPI, func(ctx context.Context) (*ecr.GetLifecyclePolicyOutput, error) {
		return d.ecr.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{
			RegistryId: aws.String(ref.registry), RepositoryName: aws.String(ref.repository),
		}, d.ecrOptions(ref)...)
	})
	var none *ecrtypes.LifecyclePolicyNotFoundException
	switch {
	case errors.As(err, &none):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("GetLifecyclePolicy: %w", err)
	}
	return aws.ToString(out.LifecyclePolicyText), nil
}

// repositoryImages lists every image of the repository, every page.
func (d *Driver) repositoryImages(ctx context.Context, ref ecrRef) ([]ecrlifecycle.Image, error) {
	var images []ecrlifecycle.Image
	var token *string
	for {
		out, err := call(ctx, d, d.ecrAPI, func(ctx context.Context) (*ecr.DescribeImagesOutput, error) {
			return d.ecr.DescribeImages(ctx, &ecr.DescribeImagesInput{
				RegistryId: aws.String(ref.registry), RepositoryName: aws.String(ref.repository), NextToken: token,
			}, d.ecrOptions(ref)...)
		})
		if err != nil {
			return nil, fmt.Errorf("DescribeImages: %w", err)
		}
		for _, im := range out.ImageDetails {
			images = append(images, ecrlifecycle.Image{Digest: aws.ToString(im.ImageDigest), Tags: im.ImageTags, PushedAt: aws.ToTime(im.ImagePushedAt)})
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			return images, nil
		}
	}
}

// ruleText describes a lifecycle rule: "rule 1 (any image, keep the 10
// most recent)".
func ruleText(r ecrlifecycle.Rule) string {
	sel := r.TagStatus + " images"
	switch {
	case r.TagStatus == ecrlifecycle.TagStatusAny:
		sel = "any image"
	case len(r.TagPrefixList) > 0:
		sel = "images tagged " + strings.Join(r.TagPrefixList, "*, ") + "*"
	case len(r.TagPatternList) > 0:
		sel = "images tagged " + strings.Join(r.TagPatternList, ", ")
	}
	keep := fmt.Sprintf("keep the %d most recent", r.CountNumber)
	if r.CountType == ecrlifecycle.CountSinceImagePushed {
		keep = fmt.Sprintf("expire after %d days", r.CountNumber)
	}
	return fmt.Sprintf("rule %d (%s, %s)", r.Priority, sel, keep)
}

// sentence joins what names an image, capitalised: "Task definition
// app:3 (running) and the image to deploy".
func sentence(by []string) string {
	s := strings.Join(by, " and ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// verb is "names" for one namer, "name" for more.
func verb(by []string) string {
	if len(by) == 1 {
		return "names"
	}
	return "name"
}

// previewFinding is the finding of an image the repository's lifecycle
// policy preview expires or archives (an archived image cannot be pulled
// either), or nil; perr is why the policy could not be evaluated here.
func (d *Driver) previewFinding(ctx context.Context, ref ecrRef, digest, named string, perr error) (*results.Finding, error) {
	action, err := d.preview(ctx, ref, digest)
	if err != nil {
		return nil, fmt.Errorf("repository %s: the lifecycle policy could not be evaluated (%v), nor previewed: %w", ref.repository, perr, err)
	}
	what := "expires it"
	switch action {
	case "":
		return nil, nil
	case ecrtypes.ImageActionTypeTransition:
		what = "archives it (an archived image cannot be pulled)"
	}
	return &results.Finding{Cause: correlate.CauseImageMissing, Confidence: correlate.ConfidenceHigh,
		Evidence: []string{fmt.Sprintf("%s; the lifecycle policy of repository %s %s at its next evaluation (GetLifecyclePolicyPreview: %s).", named, ref.repository, what, action), consequence},
		Remedy:   append([]string{remedyRedeploy}, remediesKeep...)}, nil
}

// preview runs the repository's lifecycle policy preview and returns what
// it does to the image digest ("" nothing), polling every
// Config.PollInterval until it is complete.
func (d *Driver) preview(ctx context.Context, ref ecrRef, digest string) (ecrtypes.ImageActionType, error) {
	repo := &ecr.StartLifecyclePolicyPreviewInput{RegistryId: aws.String(ref.registry), RepositoryName: aws.String(ref.repository)}
	_, err := call(ctx, d, d.ecrAPI, func(ctx context.Context) (*ecr.StartLifecyclePolicyPreviewOutput, error) {
		return d.ecr.StartLifecyclePolicyPreview(ctx, repo, d.ecrOptions(ref)...)
	})
	var busy *ecrtypes.LifecyclePolicyPreviewInProgressException
	if err != nil && !errors.As(err, &busy) {
		return "", fmt.Errorf("StartLifecyclePolicyPreview: %w", err)
	}
	t := time.NewTicker(d.pollInterval)
	defer t.Stop()
	for {
		out, err := call(ctx, d, d.ecrAPI, func(ctx context.Context) (*ecr.GetLifecyclePolicyPreviewOutput, error) {
			return d.ecr.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{
				RegistryId: repo.RegistryId, RepositoryName: repo.RepositoryName,
				ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digest)}},
			}, d.ecrOptions(ref)...)
		})
		if err != nil {
			return "", fmt.Errorf("GetLifecyclePolicyPreview: %w", err)
		}
		switch out.Status {
		case ecrtypes.LifecyclePolicyPreviewStatusComplete:
			for _, r := range out.PreviewResults {
				if aws.ToString(r.ImageDigest) == digest && r.Action != nil {
					return r.Action.Type, nil
				}
			}
			return "", nil
		case ecrtypes.LifecyclePolicyPreviewStatusFailed, ecrtypes.LifecyclePolicyPreviewStatusExpired:
			return "", fmt.Errorf("GetLifecyclePolicyPreview: the preview is %s", out.Status)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("GetLifecyclePolicyPreview: %w", ctx.Err())
		case <-t.C:
		}
	}
}
