package scenarios

import (
	"fmt"
	"regexp"
	"slices"
)

// Platforms a target can live on.
const (
	// PlatformCloudRun is Cloud Run, through the Admin API v2.
	PlatformCloudRun = "cloudrun"
)

// Rollback policies: when the traffic split recorded before the run is put
// back.
const (
	// RollbackOnFailure restores after a failed action, a failed verdict or
	// an abort (the default).
	RollbackOnFailure = "on-failure"
	// RollbackOnAbort restores only when the run is interrupted.
	RollbackOnAbort = "on-abort"
	// RollbackAlways restores at the end of every run.
	RollbackAlways = "always"
	// RollbackNever leaves the service as the actions left it.
	RollbackNever = "never"
)

// Revision references an action can use instead of a revision name.
const (
	// RevisionDeployed is the revision the latest deploy action created.
	RevisionDeployed = "@deployed"
	// RevisionBaseline is the latest ready revision when the run started.
	RevisionBaseline = "@baseline"
	// RevisionLatest is the service's latest ready revision, whatever it is
	// when traffic is routed (Cloud Run's LATEST).
	RevisionLatest = "LATEST"
)

// Deploy traffic modes.
const (
	// DeployTrafficLatest sends 100% to the new revision once it is ready.
	DeployTrafficLatest = "latest"
	// DeployTrafficNone keeps the split; the new revision gets no traffic
	// (give it a tag to reach it).
	DeployTrafficNone = "0"
)

// WaitRevisionReady is the one thing a wait action waits for.
const WaitRevisionReady = "revision-ready"

// Action is one step of the cutover, started At after the load starts.
// Exactly one of Deploy, Traffic and Wait is set. Actions run one after the
// other in file order; one whose time has passed when the previous one ends
// starts at once.
type Action struct {
	At      Duration       `yaml:"at" json:"at"`
	Deploy  *DeployAction  `yaml:"deploy" json:"deploy,omitempty"`
	Traffic *TrafficAction `yaml:"traffic" json:"traffic,omitempty"`
	// Wait is "revision-ready": wait until the deployed revision is ready.
	Wait string `yaml:"wait" json:"wait,omitempty"`
	// Chaos starts an incident: a task stopped, a health check failed, a
	// service scaled (ecs targets).
	Chaos *ChaosAction `yaml:"chaos" json:"chaos,omitempty"`
}

// DeployAction creates a new revision from the service's current template
// with these changes. A CUTOVER_DEPLOY_ID variable is always set, so a
// redeploy of the same image still creates a revision.
type DeployAction struct {
	// Service is the service to deploy (default the target's); a release of
	// several services lists one deploy each.
	Service string `yaml:"service" json:"service,omitempty"`
	// Image replaces the container image ("" keeps it).
	Image string `yaml:"image" json:"image,omitempty"`
	// Env is merged into the container's environment.
	Env map[string]string `yaml:"env" json:"env,omitempty"`
	// RevisionSuffix names the revision SERVICE-SUFFIX.
	RevisionSuffix string `yaml:"revision_suffix" json:"revision_suffix,omitempty"`
	// Traffic is "latest" (default) or "0" for a no-traffic deploy.
	Traffic string `yaml:"traffic" json:"traffic"`
	// Tag gives the new revision its own URL.
	Tag string `yaml:"tag" json:"tag,omitempty"`
	// Wait makes the action end only once the revision is ready or failed
	// (default true); with false, a later wait action does that.
	Wait bool `yaml:"wait" json:"wait"`
}

func (d *DeployAction) setDefaults() {
	d.Traffic = DeployTrafficLatest
	d.Wait = true
}

// TrafficAction changes the traffic split: either a Split at once, or Steps
// of percents for Revision, Every apart, with the rest on the baseline.
type TrafficAction struct {
	Split    []TrafficSplit `yaml:"split" json:"split,omitempty"`
	Revision string         `yaml:"revision" json:"revision,omitempty"`
	Steps    []int          `yaml:"steps" json:"steps,omitempty"`
	Every    Duration       `yaml:"every" json:"every,omitzero"`
}

// TrafficSplit is one entry of a split: a revision (a name, @deployed,
// @baseline or LATEST), its percent and an optional tag.
type TrafficSplit struct {
	Revision string `yaml:"revision" json:"revision"`
	Percent  int    `yaml:"percent" json:"percent"`
	Tag      string `yaml:"tag" json:"tag,omitempty"`
}

var (
	tagPattern    = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,44}[a-z0-9])?$`)
	suffixPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)
	namePattern   = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// resolveTarget fills in the target from the local cloud when it lives there.
func resolveTarget(s *Scenario) {
	lc := &s.LocalCloud
	if !lc.Enabled() && lc.AWS.Enabled() {
		resolveECSTarget(&s.Target, &lc.AWS)
		return
	}
	if !lc.Enabled() {
		return
	}
	if s.Target.Platform == "" {
		s.Target.Platform = PlatformCloudRun
	}
	if s.Target.Project == "" {
		s.Target.Project = lc.Project
	}
	if s.Target.Region == "" {
		s.Target.Region = lc.Region
	}
	if s.Target.Service == "" && len(lc.Services) > 0 {
		s.Target.Service = lc.Services[0].Name
	}
}

func (v *validator) target(s *Scenario) {
	t := s.Target
	switch t.Platform {
	case "":
		if len(s.Actions) > 0 {
			v.addf("target.platform", "actions need a platform: set platform: cloudrun with project, region and service, or add a localcloud section")
		}
		return
	case PlatformCloudRun:
	case PlatformECS:
		v.ecsTarget(s)
		return
	default:
		v.addf("target.platform", "%q: unknown platform; the platforms are %s and %s", t.Platform, PlatformCloudRun, PlatformECS)
		return
	}
	for _, f := range []struct{ path, value string }{
		{"target.project", t.Project}, {"target.region", t.Region}, {"target.service", t.Service},
	} {
		if f.value == "" {
			v.addf(f.path, "required with platform %s", t.Platform)
		}
	}
	if t.Service != "" && !namePattern.MatchString(t.Service) {
		v.addf("target.service", "%q: a service name is lower case letters, digits and dashes, starting with a letter", t.Service)
	}
	if lc := &s.LocalCloud; lc.Enabled() && t.Service != "" {
		found := slices.ContainsFunc(lc.Services, func(cs CloudService) bool { return cs.Name == t.Service })
		if !found {
			v.addf("target.service", "%q: no such service in the localcloud section", t.Service)
		}
	}
}

func (v *validator) actions(s *Scenario) {
	switch s.Rollback {
	case RollbackOnFailure, RollbackOnAbort, RollbackAlways, RollbackNever:
	default:
		v.addf("rollback", "%q: one of %s, %s, %s, %s", s.Rollback, RollbackOnFailure, RollbackOnAbort, RollbackAlways, RollbackNever)
	}
	v.listMax("actions", len(s.Actions), maxActions, "actions")
	deployed := false
	var last Duration
	for i, a := range s.Actions {
		p := fmt.Sprintf("actions[%d]", i)
		if a.At < 0 {
			v.addf(p+".at", "must not be negative")
		}
		if a.At < last {
			v.addf(p+".at", "%s is before the previous action's %s; list actions in time order", a.At, last)
		}
		last = a.At
		if a.At.D() >= s.Load.Duration.D() && s.Load.Duration > 0 {
			v.addf(p+".at", "%s is not before the end of the load (%s)", a.At, s.Load.Duration)
		}
		kinds := 0
		if a.Deploy != nil {
			kinds++
			v.deploy(p+".deploy", a.Deploy, &s.LocalCloud)
			deployed = deployed || a.Deploy.Service == "" || a.Deploy.Service == s.Target.Service
		}
		if a.Traffic != nil {
			kinds++
			v.traffic(p+".traffic", a.Traffic, deployed)
		}
		if a.Chaos != nil {
			kinds++
			v.chaos(p+".chaos", a.Chaos, s.Target.Platform)
		}
		if a.Wait != "" {
			kinds++
			if a.Wait != WaitRevisionReady {
				v.addf(p+".wait", "%q: the one thing to wait for is %s", a.Wait, WaitRevisionReady)
			}
			if !deployed {
				v.addf(p+".wait", "no deploy action before it to wait for")
			}
		}
		if kinds != 1 {
			v.addf(p, "an action is exactly one of deploy, traffic, wait or chaos (this one has %d)", kinds)
		}
	}
}

func (v *validator) deploy(p string, d *DeployAction, lc *LocalCloud) {
	if d.Service != "" {
		if !namePattern.MatchString(d.Service) {
			v.addf(p+".service", "%q: a service name is lower case letters, digits and dashes, starting with a letter", d.Service)
		} else if lc.Enabled() && !slices.ContainsFunc(lc.Services, func(cs CloudService) bool { return cs.Name == d.Service }) {
			v.addf(p+".service", "%q: no such service in the localcloud section", d.Service)
		}
	}
	switch d.Traffic {
	case DeployTrafficLatest, DeployTrafficNone:
	default:
		v.addf(p+".traffic", "%q: latest (the new revision takes all traffic once ready) or \"0\" (no traffic)", d.Traffic)
	}
	if d.Tag != "" && !tagPattern.MatchString(d.Tag) {
		v.addf(p+".tag", "%q: a tag is lower case letters, digits and dashes, starting with a letter", d.Tag)
	}
	v.listMax(p+".env", len(d.Env), maxEnv, "environment variables")
	if d.RevisionSuffix != "" && !suffixPattern.MatchString(d.RevisionSuffix) {
		v.addf(p+".revision_suffix", "%q: lower case letters, digits and dashes", d.RevisionSuffix)
	}
}

func (v *validator) traffic(p string, t *TrafficAction, deployed bool) {
	checkRef := func(path, rev string) {
		switch {
		case rev == "":
			v.addf(path, "required: a revision name, %s, %s or %s", RevisionDeployed, RevisionBaseline, RevisionLatest)
		case rev == RevisionDeployed && !deployed:
			v.addf(path, "%s names the revision of an earlier deploy action, and there is none", RevisionDeployed)
		case rev[0] == '@' && rev != RevisionDeployed && rev != RevisionBaseline:
			v.addf(path, "%q: the references are %s and %s", rev, RevisionDeployed, RevisionBaseline)
		}
	}
	switch {
	case len(t.Split) > 0 && (len(t.Steps) > 0 || t.Revision != ""):
		v.addf(p, "either split, or revision with steps; not both")
	case len(t.Split) > 0:
		v.listMax(p+".split", len(t.Split), maxSplits, "entries")
		sum := 0
		for i, s := range t.Split {
			sp := fmt.Sprintf("%s.split[%d]", p, i)
			checkRef(sp+".revision", s.Revision)
			if s.Percent < 0 || s.Percent > 100 {
				v.addf(sp+".percent", "a percentage between 0 and 100, got %d", s.Percent)
			}
			if s.Tag != "" && !tagPattern.MatchString(s.Tag) {
				v.addf(sp+".tag", "%q: a tag is lower case letters, digits and dashes, starting with a letter", s.Tag)
			}
			sum += s.Percent
		}
		if sum != 100 {
			v.addf(p+".split", "percents sum to %d; they must sum to 100", sum)
		}
	case len(t.Steps) > 0:
		checkRef(p+".revision", t.Revision)
		prev := 0
		for i, s := range t.Steps {
			if s <= prev || s > 100 {
				v.addf(fmt.Sprintf("%s.steps[%d]", p, i), "steps rise from 1 to 100; got %d after %d", s, prev)
			}
			prev = s
		}
		switch {
		case len(t.Steps) > 1 && t.Every == 0:
			v.addf(p+".every", "required with more than one step, e.g. every: 30s")
		case len(t.Steps) > 1 || t.Every != 0:
			v.durationIn(p+".every", t.Every, minEvery, maxEvery)
		}
	default:
		v.addf(p, "give a split ([{revision: %s, percent: 100}]) or a revision with steps ([10, 50, 100])", RevisionDeployed)
	}
}
