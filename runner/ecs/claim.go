package ecs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/cutover-dev/cutover/runner"
)

// The service tags that hold a run's claim (runner.Claim). Tagging a
// service makes no deployment.
//
// ECS has no etag: a claim is read, then written, and a second run that
// writes between the two is not refused by the API. Claim narrows the
// window by reading the claim back after writing it (the later of two
// writers wins, and the earlier one is told); two runs that both write
// and read back before the other's write can both believe they hold the
// service, until the next guarded write of the earlier one, which sees
// the later claim and fails with a *runner.ClaimedError. The same window
// lies between the check and the write of every guarded change.
const (
	// TagRun is the id of the run that holds the service.
	TagRun = claimPrefix + "run"
	// TagSince and TagExpires are RFC 3339 times, UTC.
	TagSince   = claimPrefix + "since"
	TagExpires = claimPrefix + "expires"
	// TagTraffic is the revision (FAMILY:REVISION) the holder's last
	// write left at 100%: ECS tag values cannot hold a "%", and an ECS
	// split is one revision. runner.Claim.Traffic renders it as a split,
	// "app:3=100%".
	TagTraffic = claimPrefix + "traffic"
	// TagDesired is the desired count when the run took the claim: a
	// restore puts it back too, so a scale chaos action does not outlive
	// its run.
	TagDesired = claimPrefix + "desired"

	// claimPrefix starts every tag of a claim; a release removes them all.
	claimPrefix = "cutover:claim-"
)

// Claim marks the service as held by runID until ttl from now, in one
// TagResource call that also records the revision the service runs, and
// reads the claim back (see TagRun for the window ECS leaves). A live
// claim of another run is a *runner.ClaimedError unless force; an expired
// one is taken over; runID's own claim is renewed. From then on the
// driver's Deploy and SetTraffic are made for runID only.
func (d *Driver) Claim(ctx context.Context, runID string, ttl time.Duration, force bool) error {
	if runID == "" || ttl <= 0 {
		return fmt.Errorf("claim service %s: need a run id and a positive ttl (got %q, %v)", d.Name(), runID, ttl)
	}
	if err := d.claim(ctx, runID, ttl, force); err != nil {
		return fmt.Errorf("claim service %s for cutover run %s: %w", d.Name(), runID, err)
	}
	d.mu.Lock()
	d.runID = runID
	d.mu.Unlock()
	return nil
}

// claim is Claim's read, write and read back.
func (d *Driver) claim(ctx context.Context, runID string, ttl time.Duration, force bool) error {
	now := d.now()
	svc, err := d.describe(ctx)
	if err != nil {
		return err
	}
	tags, err := d.tags(ctx)
	if err != nil {
		return err
	}
	held, _ := claimOf(tags)
	if held.RunID != runID && held.Live(now) && !force {
		return &runner.ClaimedError{Service: d.service, Holder: held}
	}
	since := now
	if held.RunID == runID && !held.Since.IsZero() {
		since = held.Since
	}
	desired := strconv.Itoa(int(svc.DesiredCount))
	if held.RunID == runID && tags[TagDesired] != "" {
		desired = tags[TagDesired]
	}
	if err := d.tag(ctx, map[string]string{
		TagRun:     runID,
		TagSince:   since.UTC().Format(time.RFC3339),
		TagExpires: now.Add(ttl).UTC().Format(time.RFC3339),
		TagTraffic: runningRevision(svc),
		TagDesired: desired,
	}); err != nil {
		return err
	}
	if tags, err = d.tags(ctx); err != nil {
		return fmt.Errorf("read the claim back: %w", err)
	}
	if got, _ := claimOf(tags); got.RunID != runID {
		return &runner.ClaimedError{Service: d.service, Holder: got}
	}
	return nil
}

// Release removes runID's claim. A service that carries no claim is left
// alone; one that carries another run's is a *runner.ClaimedError, and is
// left alone too.
func (d *Driver) Release(ctx context.Context, runID string) error {
	err := func() error {
		tags, err := d.tags(ctx)
		if err != nil {
			return err
		}
		held, _ := claimOf(tags)
		switch {
		case held.RunID == "":
			return nil
		case held.RunID != runID:
			return &runner.ClaimedError{Service: d.service, Holder: held}
		}
		return d.untag(ctx, claimKeys(tags))
	}()
	if err != nil {
		return fmt.Errorf("release service %s from cutover run %s: %w", d.Name(), runID, err)
	}
	return nil
}

// Restore puts the service back on the revision of spec.Split (one
// revision at 100%), removes the claim, and waits until the deployment
// that runs it is COMPLETED. Unless spec.Force, the service must carry
// spec.RunID's claim (live or expired: a run killed with -9 is restored
// by a new process) and run the revision that claim recorded; else it is
// a *runner.ConflictError and nothing is written. A service that runs
// spec.Split's revision already only loses the claim (and is waited for).
// It needs no Claim before it. The update, the wait and the release are
// separate calls: the claim is released only once the rollback deployment
// is COMPLETED, and a release that fails leaves the service restored and
// says so.
func (d *Driver) Restore(ctx context.Context, spec runner.RestoreSpec) error {
	if err := d.restore(ctx, spec); err != nil {
		return fmt.Errorf("restore service %s to [%s] for cutover run %s: %w", d.Name(), runner.FormatSplit(spec.Split), spec.RunID, err)
	}
	return nil
}

// restore is Restore's checks, writes and wait.
func (d *Driver) restore(ctx context.Context, spec runner.RestoreSpec) error {
	if spec.RunID == "" && !spec.Force {
		return errors.New("no run id to check the claim against")
	}
	target, err := oneRevision(spec.Split)
	if err != nil {
		return err
	}
	svc, err := d.describe(ctx)
	if err != nil {
		return err
	}
	tags, err := d.tags(ctx)
	if err != nil {
		return err
	}
	want := resolve(target, svc)
	cur := runningRevision(svc)
	if !spec.Force {
		held, _ := claimOf(tags)
		if reason := runner.RestoreConflict(held, spec.RunID, splitOf(cur), splitOf(want)); reason != "" {
			return &runner.ConflictError{Service: d.service, Reason: reason}
		}
	}
	depID := ""
	if p := primary(svc); p != nil {
		depID = aws.ToString(p.Id)
	}
	in := &ecs.UpdateServiceInput{}
	if cur != want {
		in.TaskDefinition = aws.String(want)
	}
	if n, err := strconv.ParseInt(tags[TagDesired], 10, 32); err == nil && n >= 0 && int32(n) != svc.DesiredCount {
		in.DesiredCount = aws.Int32(int32(n))
	}
	if in.TaskDefinition != nil || in.DesiredCount != nil {
		id, err := d.update(ctx, in)
		if err != nil {
			return err
		}
		if in.TaskDefinition != nil {
			depID = id
		}
	}
	// The claim is released only once the rollback runs: a restore cut
	// short leaves the service held by this run, so no other run deploys
	// on top of a rollback under way, and `cutover restore` can finish it.
	if depID != "" {
		if err := d.follow(ctx, depID, want, nil); err != nil {
			return err
		}
	}
	if keys := claimKeys(tags); len(keys) > 0 {
		if err := d.untag(ctx, keys); err != nil {
			return fmt.Errorf("the service runs %s again, but its claim could not be released: %w", want, err)
		}
	}
	return nil
}

// claimed returns the run this driver claimed the service for, or "".
func (d *Driver) claimed() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runID
}

// checkClaim is the check before a change this driver makes for its run:
// without a claim there is nothing to check (runID ""); after Claim the
// service must still carry it, else a *runner.ClaimedError naming the run
// that took it over, or an error saying it is gone.
func (d *Driver) checkClaim(ctx context.Context) (runID string, err error) {
	runID = d.claimed()
	if runID == "" {
		return "", nil
	}
	tags, err := d.tags(ctx)
	if err != nil {
		return "", err
	}
	held, _ := claimOf(tags)
	switch held.RunID {
	case runID:
		return runID, nil
	case "":
		return "", fmt.Errorf("the claim of cutover run %s on service %s is gone (released, or removed by hand): not changing the service", runID, d.service)
	}
	return "", &runner.ClaimedError{Service: d.service, Holder: held}
}

// recordSplit records in runID's claim the revision a change left; no
// claim, nothing to record.
func (d *Driver) recordSplit(ctx context.Context, runID, revision string) error {
	if runID == "" {
		return nil
	}
	if err := d.tag(ctx, map[string]string{TagTraffic: revision}); err != nil {
		return fmt.Errorf("record %s in the claim of cutover run %s: %w", revision, runID, err)
	}
	return nil
}

// resync follows the failure err of a guarded change: ECS may have rolled
// the service back (the circuit breaker's rollback), and the claim must
// then record the revision the service runs, or a restore would see a
// change that nobody made. It returns err, saying so when the claim could
// not be updated.
func (d *Driver) resync(ctx context.Context, runID string, err error) error {
	if runID == "" || ctx.Err() != nil {
		return err
	}
	svc, rerr := d.describe(ctx)
	if rerr == nil {
		rerr = d.recordSplit(ctx, runID, runningRevision(svc))
	}
	if rerr != nil {
		return fmt.Errorf("%w (and the claim could not record the revision the failure left: %v)", err, rerr)
	}
	return err
}

// tags reads the service's tags.
func (d *Driver) tags(ctx context.Context) (map[string]string, error) {
	arn, err := d.serviceARN(ctx)
	if err != nil {
		return nil, err
	}
	out, err := call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.ListTagsForResourceOutput, error) {
		return d.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: &arn})
	})
	if err != nil {
		return nil, fmt.Errorf("read tags: %w", err)
	}
	tags := map[string]string{}
	for _, t := range out.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// tag sets tags on the service, in one call.
func (d *Driver) tag(ctx context.Context, tags map[string]string) error {
	arn, err := d.serviceARN(ctx)
	if err != nil {
		return err
	}
	var list []types.Tag
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		list = append(list, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err = call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.TagResourceOutput, error) {
		return d.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: &arn, Tags: list})
	})
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	return nil
}

// untag removes tags from the service, in one call.
func (d *Driver) untag(ctx context.Context, keys []string) error {
	arn, err := d.serviceARN(ctx)
	if err != nil {
		return err
	}
	_, err = call(ctx, d, d.ecsAPI, func(ctx context.Context) (*ecs.UntagResourceOutput, error) {
		return d.ecs.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: &arn, TagKeys: keys})
	})
	if err != nil {
		return fmt.Errorf("untag: %w", err)
	}
	return nil
}

// claimOf reads the claim in a service's tags. ok is false when there is
// none, or when its times cannot be read; the claim then has its run id
// only (a claim that never expires is no claim, and one that cannot be
// read is expired).
func claimOf(tags map[string]string) (claim runner.Claim, ok bool) {
	claim.RunID = tags[TagRun]
	if claim.RunID == "" {
		return runner.Claim{}, false
	}
	if rev := tags[TagTraffic]; rev != "" {
		claim.Traffic = splitOf(rev)
	}
	since, err1 := time.Parse(time.RFC3339, tags[TagSince])
	expires, err2 := time.Parse(time.RFC3339, tags[TagExpires])
	if err1 != nil || err2 != nil {
		return claim, false
	}
	claim.Since, claim.Expires = since, expires
	return claim, true
}

// claimKeys returns the claim's tag keys present in tags, sorted.
func claimKeys(tags map[string]string) []string {
	var keys []string
	for k := range tags {
		if strings.HasPrefix(k, claimPrefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// splitOf renders the split of a service that runs revision, as
// runner.FormatSplit does: "app:3=100%".
func splitOf(revision string) string {
	return runner.FormatSplit([]runner.TrafficTarget{{Revision: revision, Percent: 100}})
}

// runningRevision returns the revision of the service's PRIMARY
// deployment, or "".
func runningRevision(svc types.Service) string {
	if p := primary(svc); p != nil {
		return lastSegment(aws.ToString(p.TaskDefinition))
	}
	return ""
}
