package awscloud

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"

	"github.com/cutover-dev/cutover/scenarios"
)

// prodThenKeepLast protects images tagged prod* and keeps the 10 most
// recent of the rest.
const prodThenKeepLast = `{"rules":[
 {"rulePriority":1,"description":"prod stays","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":100},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"keep last 10","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":10},"action":{"type":"expire"}}]}`

// TestLifecycleExpiresAfterPushes pushes 10 builds after a first image:
// keep-last-10 expires the first (the 11th most recent), unless a prod
// tag rule protects it.
func TestLifecycleExpiresAfterPushes(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{
		repoWith("plain", "release-1", 10, keepLast(10)),
		repoWith("guarded", "prod-1", 10, prodThenKeepLast),
	}, webService("guarded:prod-1"))
	_, cl := clients(t, c)
	ctx := context.Background()
	for _, tc := range []struct {
		repo      string
		wantFirst bool
	}{{"plain", false}, {"guarded", true}} {
		all, err := cl.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(tc.repo)})
		if err != nil {
			t.Fatalf("%s: DescribeImages: %v", tc.repo, err)
		}
		want := 10
		if tc.wantFirst {
			want = 11
		}
		if len(all.ImageDetails) != want {
			t.Errorf("%s: %d images, want %d", tc.repo, len(all.ImageDetails), want)
		}
		_, err = cl.DescribeImages(ctx, &ecr.DescribeImagesInput{
			RepositoryName: aws.String(tc.repo), ImageIds: []ecrtypes.ImageIdentifier{{ImageDigest: aws.String(digestFor(tc.repo, 1))}},
		})
		var notFound *ecrtypes.ImageNotFoundException
		if got := errors.As(err, &notFound); got == tc.wantFirst {
			t.Errorf("%s: DescribeImages of the first digest: err %v, want found %v", tc.repo, err, tc.wantFirst)
		}
	}
	pol, err := cl.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("guarded")})
	if err != nil || aws.ToString(pol.LifecyclePolicyText) != prodThenKeepLast {
		t.Errorf("GetLifecyclePolicy = %v, %v; want the scenario's text", pol, err)
	}
}

// TestBatchGetImageFailure asks for a digest the policy expired and one
// still there.
func TestBatchGetImageFailure(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{repoWith("app", "release-1", 10, keepLast(10))}, webService("app:build-10"))
	_, cl := clients(t, c)
	out, err := cl.BatchGetImage(context.Background(), &ecr.BatchGetImageInput{
		RepositoryName: aws.String("app"),
		ImageIds: []ecrtypes.ImageIdentifier{
			{ImageDigest: aws.String(digestFor("app", 1))}, {ImageTag: aws.String("build-10")},
		},
	})
	if err != nil {
		t.Fatalf("BatchGetImage: %v", err)
	}
	if len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId.ImageDigest) != digestFor("app", 11) || aws.ToString(out.Images[0].ImageManifest) == "" {
		t.Errorf("images = %+v, want build-10 with its manifest", out.Images)
	}
	if len(out.Failures) != 1 || out.Failures[0].FailureCode != ecrtypes.ImageFailureCodeImageNotFound ||
		aws.ToString(out.Failures[0].FailureReason) != "Requested image not found" ||
		aws.ToString(out.Failures[0].ImageId.ImageDigest) != digestFor("app", 1) {
		t.Errorf("failures = %+v, want the first digest ImageNotFound", out.Failures)
	}
}

// TestLifecyclePreview previews a stricter policy than the repository's,
// and reads the errors of a repository without a policy.
func TestLifecyclePreview(t *testing.T) {
	c := startCloud(t, []scenarios.ECRRepository{
		repoWith("app", "release-1", 10, keepLast(10)), repoWith("bare", "v1", 0, ""),
	}, webService("app:build-10"))
	_, cl := clients(t, c)
	ctx := context.Background()
	if _, err := cl.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{
		RepositoryName: aws.String("app"), LifecyclePolicyText: aws.String(keepLast(4)),
	}); err != nil {
		t.Fatalf("StartLifecyclePolicyPreview: %v", err)
	}
	prev, err := cl.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: aws.String("app")})
	if err != nil {
		t.Fatalf("GetLifecyclePolicyPreview: %v", err)
	}
	if prev.Status != ecrtypes.LifecyclePolicyPreviewStatusComplete || len(prev.PreviewResults) != 6 || aws.ToInt32(prev.Summary.ExpiringImageTotalCount) != 6 {
		t.Fatalf("preview = %s, %d results, summary %+v; want COMPLETE with 6", prev.Status, len(prev.PreviewResults), prev.Summary)
	}
	r := prev.PreviewResults[0]
	if r.Action.Type != ecrtypes.ImageActionTypeExpire || aws.ToInt32(r.AppliedRulePriority) != 1 || aws.ToString(r.ImageDigest) != digestFor("app", 2) {
		t.Errorf("first result = %+v, want build-1 expired by rule 1", r)
	}
	_, err = cl.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: aws.String("bare")})
	var noPolicy *ecrtypes.LifecyclePolicyNotFoundException
	if !errors.As(err, &noPolicy) {
		t.Errorf("GetLifecyclePolicy without a policy: %v, want LifecyclePolicyNotFoundException", err)
	}
	_, err = cl.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("nope")})
	var noRepo *ecrtypes.RepositoryNotFoundException
	if !errors.As(err, &noRepo) {
		t.Errorf("DescribeImages of a missing repository: %v, want RepositoryNotFoundException", err)
	}
	repos, err := cl.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil || len(repos.Repositories) != 2 || aws.ToString(repos.Repositories[0].RepositoryUri) != "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/app" {
		t.Errorf("DescribeRepositories = %v, %v", repos, err)
	}
}

// TestScheduledBuilds pushes builds on the clock after the start: a tag
// every build carries moves to the newest, and the policy expires the
// oldest images as they come.
func TestScheduledBuilds(t *testing.T) {
	start := scenarios.Duration(time.Second)
	repo := scenarios.ECRRepository{
		Name: "app", LifecyclePolicy: keepLast(3),
		Images: []scenarios.ECRImage{{Tags: []string{"v1"}}},
		Builds: scenarios.ECRBuilds{Every: scenarios.Duration(2 * time.Second), Count: 4, Start: &start, Tags: []string{"latest", "build-{n}"}},
	}
	c := startCloud(t, []scenarios.ECRRepository{repo}, webService("app:v1"))
	_, cl := clients(t, c)
	ctx := context.Background()
	eventually(t, "the fourth build", func() bool {
		out, err := cl.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("build-4")}}})
		return err == nil && len(out.ImageDetails) == 1
	})
	latest, err := cl.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("latest")}}})
	if err != nil || aws.ToString(latest.ImageDetails[0].ImageDigest) != digestFor("app", 5) {
		t.Fatalf("latest = %v, %v; want build-4's digest", latest, err)
	}
	if tags := latest.ImageDetails[0].ImageTags; len(tags) != 2 {
		t.Errorf("build-4 tags = %v, want latest and build-4", tags)
	}
	all, err := cl.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app")})
	if err != nil || len(all.ImageDetails) != 3 {
		t.Fatalf("images = %v, %v; want the last 3", all, err)
	}
	if got := aws.ToString(all.ImageDetails[0].ImageDigest); got != digestFor("app", 3) {
		t.Errorf("oldest image left = %s, want build-2's", got)
	}
	for _, im := range all.ImageDetails[:2] {
		if len(im.ImageTags) != 1 {
			t.Errorf("older build %s keeps tags %v, want only its build tag", aws.ToString(im.ImageDigest), im.ImageTags)
		}
	}
}
