package ecs

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/cutover-dev/cutover/runner/correlate"
)

// keepPolicy is a lifecycle policy that keeps the n most recent images.
func keepPolicy(n int) string {
	return fmt.Sprintf(`{"rules":[{"rulePriority":1,"description":"keep %d","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":%d},"action":{"type":"expire"}}]}`, n, n)
}

func TestCheckImages(t *testing.T) {
	t.Parallel()
	const (
		d1 = registry + "app@sha256:d1"
		d2 = registry + "app@sha256:d2"
	)
	type finding struct{ cause, first string }
	for _, tc := range []struct {
		name      string
		edit      func(*fakeAWS)
		newImages []string
		want      []finding
		wantCalls map[string]int
	}{
		{name: "no policy: safe", wantCalls: map[string]int{"BatchGetImage": 2, "GetLifecyclePolicy": 2, "DescribeImages": 0}},
		{name: "a policy that keeps them: safe", edit: func(f *fakeAWS) {
			f.repos["app"].policy = keepPolicy(50)
			f.repos["app"].images = append(f.repos["app"].images, fakeImage{digest: "sha256:d3", tags: []string{"build-3"}, pushedAt: fakeEpoch})
		}, wantCalls: map[string]int{"BatchGetImage": 2, "DescribeImages": 4}}, // two pages each
		{name: "the running image is gone", edit: func(f *fakeAWS) { f.repos["app"].images = f.repos["app"].images[:1] },
			want: []finding{{correlate.CauseImageMissing,
				"Task definition app:2 (running) names " + d2 + "; ECR has no such image in repository app (BatchGetImage: ImageNotFound)."}}},
		{name: "at risk", edit: func(f *fakeAWS) { f.repos["app"].policy = keepPolicy(2) },
			want: []finding{
				{correlate.CauseImageAtRisk, "Task definition app:2 (running) names " + d2 + "; it expires after 2 more pushes, under the lifecycle policy of repository app."},
				{correlate.CauseImageAtRisk, "Task definition app:1 (the rollback target) names " + d1 + "; it expires after 1 more push, under the lifecycle policy of repository app."},
			}},
		{name: "expires at the next evaluation", edit: func(f *fakeAWS) { f.repos["app"].policy = keepPolicy(1) },
			want: []finding{
				{correlate.CauseImageAtRisk, "Task definition app:2 (running) names " + d2 + "; it expires after 1 more push, under the lifecycle policy of repository app."},
				{correlate.CauseImageMissing, "Task definition app:1 (the rollback target) names " + d1 +
					"; the lifecycle policy of repository app expires it at its next evaluation, by rule 1 (any image, keep the 1 most recent)."},
			}},
		{name: "a new image that is not there; not ECR: not checked", newImages: []string{registry + "app:build-9", "nginx:1.27"},
			want: []finding{{correlate.CauseImageMissing,
				"The image to deploy names " + registry + "app:build-9; ECR has no such image in repository app (BatchGetImage: ImageNotFound)."}},
			wantCalls: map[string]int{"BatchGetImage": 3}},
		{name: "named twice", newImages: []string{d2}, edit: func(f *fakeAWS) { f.repos["app"].images = f.repos["app"].images[:1] },
			want: []finding{{correlate.CauseImageMissing,
				"Task definition app:2 (running) and the image to deploy name " + d2 + "; ECR has no such image in repository app (BatchGetImage: ImageNotFound)."}}},
		{name: "no repository", newImages: []string{registry + "other:1"},
			want: []finding{{correlate.CauseImageMissing,
				"The image to deploy names " + registry + "other:1; ECR has no repository other (BatchGetImage: RepositoryNotFoundException)."}}},
		{name: "a policy beyond the model is previewed", edit: func(f *fakeAWS) {
			f.repos["app"].policy = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"transition","targetStorageClass":"archive"}}]}`
			f.repos["app"].preview = map[string]string{"sha256:d1": "TRANSITION"}
		}, want: []finding{{correlate.CauseImageMissing, "Task definition app:1 (the rollback target) names " + d1 +
			"; the lifecycle policy of repository app archives it (an archived image cannot be pulled) at its next evaluation (GetLifecyclePolicyPreview: TRANSITION)."}},
			wantCalls: map[string]int{"StartLifecyclePolicyPreview": 2, "DescribeImages": 0}},
		{name: "the first revision has no rollback target", edit: func(f *fakeAWS) { f.deployments[0].td = f.arn("app:1") },
			wantCalls: map[string]int{"BatchGetImage": 1}},
		{name: "a deployment in progress is checked too", edit: func(f *fakeAWS) {
			f.repos["app"].images = f.repos["app"].images[1:]
			f.newDeployment(f.arn("app:1")).steps = -100
		}, want: []finding{{correlate.CauseImageMissing,
			"Task definition app:1 (running) names " + d1 + "; ECR has no such image in repository app (BatchGetImage: ImageNotFound)."}},
			wantCalls: map[string]int{"BatchGetImage": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var edits []func(*fakeAWS)
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			f := newFake(t, edits...)
			findings, err := connect(t, f).CheckImages(testCtx(t), tc.newImages)
			if err != nil {
				t.Fatalf("CheckImages: %v", err)
			}
			var got []finding
			for _, fd := range findings {
				got = append(got, finding{fd.Cause, fd.Evidence[0]})
				checkFinding(t, fd.Cause, fd.Confidence, fd.Evidence, fd.Remedy)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings:\n got %q\nwant %q", got, tc.want)
			}
			for op, n := range tc.wantCalls {
				if c := f.count(op); c != n {
					t.Errorf("%d %s calls, want %d", c, op, n)
				}
			}
		})
	}
}

// checkFinding checks what every finding of a cause carries.
func checkFinding(t *testing.T, cause, confidence string, evidence, remedy []string) {
	t.Helper()
	wantRemedy := []string{
		"Redeploy with an image that exists in ECR",
		"Keep more images in the lifecycle policy (countNumber) or expire by age",
		"Tag production images (e.g. prod-*) and give them a rule of their own so only unused images expire",
		"Push staging builds to their own repository",
		"Deploy production more often",
	}
	wantConfidence := correlate.ConfidenceHigh
	if cause == correlate.CauseImageAtRisk {
		wantRemedy, wantConfidence = wantRemedy[1:], correlate.ConfidenceMedium
	}
	if confidence != wantConfidence || !reflect.DeepEqual(remedy, wantRemedy) || len(evidence) != 2 {
		t.Errorf("%s finding: confidence %s, remedy %q, evidence %q; want %s, %q and two sentences",
			cause, confidence, remedy, evidence, wantConfidence, wantRemedy)
	}
}

func TestParseECR(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  ecrRef
		ok    bool
	}{
		{registry + "app:v1", ecrRef{"123456789012", "ap-northeast-1", "app", "v1", ""}, true},
		{registry + "team/app@sha256:abc", ecrRef{"123456789012", "ap-northeast-1", "team/app", "", "sha256:abc"}, true},
		{registry + "app:v1@sha256:abc", ecrRef{"123456789012", "ap-northeast-1", "app", "v1", "sha256:abc"}, true},
		{registry + "app", ecrRef{"123456789012", "ap-northeast-1", "app", "latest", ""}, true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1", ecrRef{"123456789012", "cn-north-1", "app", "v1", ""}, true},
		{"nginx:1.27", ecrRef{}, false},
		{"localhost:5000/app:v1", ecrRef{}, false},
	} {
		got, ok := parseECR(tc.image)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseECR(%q) = %+v, %v; want %+v, %v", tc.image, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPreviousRevision(t *testing.T) {
	for in, want := range map[string]string{"app:3": "app:2", "app:1": "", "app": "", "a:b:10": "a:b:9", "": ""} {
		if got := previousRevision(in); got != want {
			t.Errorf("previousRevision(%q) = %q, want %q", in, got, want)
		}
	}
}
