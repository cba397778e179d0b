package scenarios

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"
)

// LocalCloud is a scenario's localcloud: section: the embedded local cloud
// the target lives in (its services and their application model, the Cloud
// NAT gateway, the external API, the database, metric timing and the time
// scale). Every duration in it is simulated time; the local cloud divides it
// by TimeScale before it waits.
//
// The section is present when it names at least one service (see Enabled);
// an unset field takes its default (see Defaults).
type LocalCloud struct {
	// TimeScale runs simulated time this many times faster than wall-clock
	// time (default 1): 20 replays a 15-minute incident in 45 s. At this
	// level (and in nat, external_api, database, metrics) 0 means the
	// default.
	TimeScale int `yaml:"time_scale" json:"time_scale"`
	// Project and Region name the resources like a real project
	// (defaults local-project, asia-northeast1).
	Project string `yaml:"project" json:"project"`
	Region  string `yaml:"region" json:"region"`
	// Seed makes revision name suffixes reproducible (0: seeded from the clock).
	Seed int64 `yaml:"seed" json:"seed,omitempty"`
	// UnpullableImages are image references that cannot be pulled: a revision
	// using one never becomes ready.
	UnpullableImages []string `yaml:"unpullable_images" json:"unpullable_images,omitempty"`

	Services    []CloudService   `yaml:"services" json:"services"`
	NAT         CloudNAT         `yaml:"nat" json:"nat"`
	ExternalAPI CloudExternalAPI `yaml:"external_api" json:"external_api"`
	Database    CloudDatabase    `yaml:"database" json:"database"`
	Metrics     CloudMetrics     `yaml:"metrics" json:"metrics"`
	// AWS is the AWS side: ECR, ECS, ALB and CloudWatch.
	AWS CloudAWS `yaml:"aws" json:"aws,omitzero"`
}

// CloudService is one Cloud Run service and the template of its first
// revision.
type CloudService struct {
	Name  string `yaml:"name" json:"name"`
	Image string `yaml:"image" json:"image"`

	// MinInstances are kept warm for a revision that serves traffic
	// (default 0); MaxInstances caps a revision (default 100).
	MinInstances int `yaml:"min_instances" json:"min_instances"`
	MaxInstances int `yaml:"max_instances" json:"max_instances"`
	// Concurrency is the maximum of in-flight requests per instance (default 80).
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// TargetUtilization is the autoscaler's target, in percent of
	// Concurrency (default 60).
	TargetUtilization int `yaml:"target_utilization" json:"target_utilization"`
	// ScaleInterval is how often the autoscaler evaluates (default 5s).
	ScaleInterval Duration `yaml:"scale_interval" json:"scale_interval"`
	// ScaleOutDelay passes between the autoscaler's decision and an
	// instance starting its cold start (default 0s).
	ScaleOutDelay Duration `yaml:"scale_out_delay" json:"scale_out_delay"`
	// ColdStart is how long an instance takes to become ready (default 3s).
	ColdStart Duration `yaml:"cold_start" json:"cold_start"`
	// IdleRetention is how long an idle instance beyond the needed count is
	// kept before it is shut down (default 15m).
	IdleRetention Duration `yaml:"idle_retention" json:"idle_retention"`
	// ShutdownGrace is the SIGTERM-to-SIGKILL window in which a draining
	// instance finishes its in-flight requests (default 10s).
	ShutdownGrace Duration `yaml:"shutdown_grace" json:"shutdown_grace"`
	// RequestTimeout bounds a request at an instance; past it the front end
	// answers 504 (default 300s).
	RequestTimeout Duration `yaml:"request_timeout" json:"request_timeout"`
	// QueueTimeout is how long a request waits for a free instance before
	// 429 or 503 (default 10s).
	QueueTimeout Duration `yaml:"queue_timeout" json:"queue_timeout"`

	// Egress is the Direct VPC egress setting: all-traffic (every public
	// destination through Cloud NAT) or private-ranges-only (only private
	// destinations enter the VPC; public ones bypass NAT). Default all-traffic.
	Egress string `yaml:"egress" json:"egress"`
	// EgressReadyDelay is how long a new instance's VPC egress takes to be
	// programmed (the Direct VPC delay): calls through the VPC hang until it
	// passes (default 0s).
	EgressReadyDelay Duration `yaml:"egress_ready_delay" json:"egress_ready_delay"`
	// StartupProbeEgress keeps an instance not ready until its egress works
	// (a startup probe that tests the egress destination).
	StartupProbeEgress bool `yaml:"startup_probe_egress" json:"startup_probe_egress"`
	// SessionAffinity turns on the GAESA session-affinity cookie.
	SessionAffinity bool `yaml:"session_affinity" json:"session_affinity"`

	App CloudApp `yaml:"app" json:"app"`
}

// CloudApp is the application model of a service: what one request does.
type CloudApp struct {
	// ServerTime is the time a request spends in the app after its calls
	// (default 100ms).
	ServerTime Duration `yaml:"server_time" json:"server_time"`
	// ConnectTimeout bounds one outbound connect (default 10s, as Node's fetch).
	ConnectTimeout Duration `yaml:"connect_timeout" json:"connect_timeout"`
	// KeepAliveTimeout closes a pooled connection idle this long (default
	// 4s, as Node's undici).
	KeepAliveTimeout Duration `yaml:"keepalive_timeout" json:"keepalive_timeout"`
	// Calls are made for every request, one after the other; with Parallel
	// the entries run at once (Promise.all), each its Count times in a row.
	Calls    []CloudCall `yaml:"calls" json:"calls,omitempty"`
	Parallel bool        `yaml:"parallel" json:"parallel,omitempty"`
	// SessionState keeps each client's login session in the memory of the
	// instance that opened it (a SID cookie): a request carrying a session
	// another instance opened is answered 401 "session not found" with a
	// new SID, as an app with in-memory sessions does when affinity breaks.
	SessionState bool `yaml:"session_state" json:"session_state,omitempty"`
}

// CloudCall is one kind of outbound call a request makes.
type CloudCall struct {
	// To is external_api, self, database or service:NAME.
	To string `yaml:"to" json:"to"`
	// Via is public-url, private-ip or loopback; the default is public-url.
	// Loopback is for self only, private-ip for the database only.
	Via string `yaml:"via" json:"via"`
	// Path is the request path of the call (default /).
	Path string `yaml:"path" json:"path"`
	// Count is how many times a request makes this call, one after the
	// other (default 1).
	Count int `yaml:"count" json:"count"`
	// KeepAlive pools connections per instance (default true); false opens
	// and closes a connection per call.
	KeepAlive bool `yaml:"keepalive" json:"keepalive"`
	// Proxy makes the call only when the request is the app's own
	// self-call (the caching-proxy leg of the seed incident). Other calls
	// are made on every request, except self calls on a self-call.
	Proxy bool `yaml:"proxy" json:"proxy,omitempty"`
}

// CloudNAT is the Cloud NAT gateway every all-traffic instance's public
// egress goes through.
type CloudNAT struct {
	// Router and Gateway name the gateway (defaults nat-router, nat-gateway).
	Router  string `yaml:"router" json:"router"`
	Gateway string `yaml:"gateway" json:"gateway"`
	// IPs is the number of manual NAT IPs (default 1).
	IPs int `yaml:"ips" json:"ips"`
	// PortsPerIP is the usable ports per NAT IP (default 64512).
	PortsPerIP int `yaml:"ports_per_ip" json:"ports_per_ip"`
	// Dynamic selects dynamic port allocation (blocks double on demand).
	Dynamic bool `yaml:"dynamic" json:"dynamic"`
	// MinPortsPerVM is the block each endpoint gets (0: 64 static, 32
	// dynamic); MaxPortsPerVM caps dynamic growth (0: 65536).
	MinPortsPerVM int `yaml:"min_ports_per_vm" json:"min_ports_per_vm"`
	MaxPortsPerVM int `yaml:"max_ports_per_vm" json:"max_ports_per_vm"`
	// DynamicDoubleDelay is how long a dynamic doubling takes (default 2s).
	DynamicDoubleDelay Duration `yaml:"dynamic_double_delay" json:"dynamic_double_delay"`
	// TCPTimeWait is how long a closed 5-tuple is not reusable (default 120s).
	TCPTimeWait Duration `yaml:"tcp_time_wait" json:"tcp_time_wait"`
	// BlockRelease is how long a retired instance's port block stays
	// allocated (default 15m).
	BlockRelease Duration `yaml:"block_release" json:"block_release"`
	// SYNSchedule lists the times after the first SYN at which it is
	// retransmitted (default 1s 3s 7s 15s 31s 63s, Linux tcp_syn_retries=6).
	SYNSchedule []Duration `yaml:"syn_schedule" json:"syn_schedule,omitempty"`
}

// CloudExternalAPI is the external API every service can call.
type CloudExternalAPI struct {
	// Latency is its response time (default 150ms).
	Latency Duration `yaml:"latency" json:"latency"`
}

// CloudDatabase is the database, reachable at a private and a public address.
type CloudDatabase struct {
	// Latency is its response time (default 5ms).
	Latency Duration `yaml:"latency" json:"latency"`
}

// CloudMetrics sets the metric timing of the recorder.
type CloudMetrics struct {
	// Period is the sample period (default 60s).
	Period Duration `yaml:"period" json:"period"`
	// LagNAT and LagRun are the ingestion lags of router.googleapis.com/nat/*
	// and run.googleapis.com/* (defaults 225s and 180s).
	LagNAT Duration `yaml:"lag_nat" json:"lag_nat"`
	LagRun Duration `yaml:"lag_run" json:"lag_run"`
	// Retention bounds the points kept per series (default 6h).
	Retention Duration `yaml:"retention" json:"retention"`
}

// Values of CloudService.Egress.
const (
	EgressAllTraffic        = "all-traffic"
	EgressPrivateRangesOnly = "private-ranges-only"
)

// Values of CloudCall.Via.
const (
	ViaPublicURL = "public-url"
	ViaPrivateIP = "private-ip"
	ViaLoopback  = "loopback"
)

// Values of CloudCall.To (a call to another service is "service:" + its name).
const (
	CallExternalAPI   = "external_api"
	CallSelf          = "self"
	CallDatabase      = "database"
	CallServicePrefix = "service:"
)

// WallDuration converts a simulated duration of the local cloud to the
// wall-clock time it takes at time scale scale (scale < 1 counts as 1). It is
// the one place the time-scale arithmetic is written; the local cloud's
// clock and the metric timing use it.
func WallDuration(simulated time.Duration, scale int) time.Duration {
	return time.Duration(float64(simulated) / float64(max(scale, 1)))
}

// SimulatedDuration converts a wall-clock duration to the simulated time
// that passes in it at time scale scale (scale < 1 counts as 1): the inverse
// of WallDuration.
func SimulatedDuration(wall time.Duration, scale int) time.Duration {
	return time.Duration(float64(wall) * float64(max(scale, 1)))
}

// DefaultSYNSchedule is Linux's SYN retransmission schedule with
// tcp_syn_retries=6, measured from the first SYN.
var DefaultSYNSchedule = []Duration{
	Duration(1 * time.Second), Duration(3 * time.Second), Duration(7 * time.Second),
	Duration(15 * time.Second), Duration(31 * time.Second), Duration(63 * time.Second),
}

// Defaults fills in every unset (zero) field of the section's top level
// (time scale, project, region, nat, external_api, database, metrics) with
// its default: zero is never a meaningful value there, so writing 0 means
// the default. Parse calls it when the section is present. Services and
// calls get their defaults before they are decoded (see
// CloudService.Defaults and CloudCall.Defaults); code that builds a section
// calls those itself.
func (lc *LocalCloud) Defaults() {
	setDefault(&lc.TimeScale, 1)
	setDefault(&lc.Project, "local-project")
	setDefault(&lc.Region, "asia-northeast1")
	n := &lc.NAT
	setDefault(&n.Router, "nat-router")
	setDefault(&n.Gateway, "nat-gateway")
	setDefault(&n.IPs, 1)
	setDefault(&n.PortsPerIP, 64512)
	setDefault(&n.DynamicDoubleDelay, Duration(2*time.Second))
	setDefault(&n.TCPTimeWait, Duration(120*time.Second))
	setDefault(&n.BlockRelease, Duration(15*time.Minute))
	setDefault(&lc.ExternalAPI.Latency, Duration(150*time.Millisecond))
	setDefault(&lc.Database.Latency, Duration(5*time.Millisecond))
	m := &lc.Metrics
	setDefault(&m.Period, Duration(60*time.Second))
	setDefault(&m.LagNAT, Duration(225*time.Second))
	setDefault(&m.LagRun, Duration(180*time.Second))
	setDefault(&m.Retention, Duration(6*time.Hour))
}

// Defaults sets every default of a service, for one built in code before
// its fields are set; a service written in a scenario file gets them before
// it is decoded.
func (s *CloudService) Defaults() {
	*s = CloudService{
		MaxInstances:      100,
		Concurrency:       80,
		TargetUtilization: 60,
		ScaleInterval:     Duration(5 * time.Second),
		ColdStart:         Duration(3 * time.Second),
		IdleRetention:     Duration(15 * time.Minute),
		ShutdownGrace:     Duration(10 * time.Second),
		RequestTimeout:    Duration(300 * time.Second),
		QueueTimeout:      Duration(10 * time.Second),
		Egress:            EgressAllTraffic,
		App: CloudApp{
			ServerTime:       Duration(100 * time.Millisecond),
			ConnectTimeout:   Duration(10 * time.Second),
			KeepAliveTimeout: Duration(4 * time.Second),
		},
	}
}

// Defaults sets the defaults of a call (keepalive on, one call to /).
func (c *CloudCall) Defaults() {
	*c = CloudCall{Path: "/", Count: 1, KeepAlive: true}
}

// setDefault sets *p to def when it is the zero value.
func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// setDefaults is what the parser calls on each new list item.
func (s *CloudService) setDefaults() { s.Defaults() }
func (c *CloudCall) setDefaults()    { c.Defaults() }

// Enabled reports whether the section is present: it names a service.
func (lc LocalCloud) Enabled() bool { return len(lc.Services) > 0 }

// IsZero reports whether the section is absent (no service on either
// side), so JSON leaves it out.
func (lc LocalCloud) IsZero() bool { return !lc.Enabled() && !lc.AWS.Enabled() }

// Present reports whether the scenario embeds a local cloud: Cloud Run
// services, ECS services, or both.
func (lc LocalCloud) Present() bool { return !lc.IsZero() }

// Service returns the service called name.
func (lc *LocalCloud) Service(name string) (*CloudService, bool) {
	for i := range lc.Services {
		if lc.Services[i].Name == name {
			return &lc.Services[i], true
		}
	}
	return nil, false
}

// PortsPerVM returns the resolved minimum and maximum ports per endpoint:
// 0 means the mode's default (static 64; dynamic 32 to 65536). Static
// allocation has max == min.
func (n CloudNAT) PortsPerVM() (minPorts, maxPorts int) {
	minPorts, maxPorts = n.MinPortsPerVM, n.MaxPortsPerVM
	if !n.Dynamic {
		if minPorts == 0 {
			minPorts = 64
		}
		return minPorts, minPorts
	}
	if minPorts == 0 {
		minPorts = 32
	}
	if maxPorts == 0 {
		maxPorts = 65536
	}
	return minPorts, maxPorts
}

// Syn returns the SYN schedule, the default one when none is written.
func (n CloudNAT) Syn() []time.Duration {
	s := n.SYNSchedule
	if len(s) == 0 {
		s = DefaultSYNSchedule
	}
	out := make([]time.Duration, len(s))
	for i, d := range s {
		out[i] = d.D()
	}
	return out
}

// SYNGiveUp returns when the kernel gives up on a SYN that is never
// answered: after 127 s (Linux, tcp_syn_retries=6), and never before the
// last retransmission of the schedule.
func (n CloudNAT) SYNGiveUp() time.Duration {
	giveUp := 127 * time.Second
	if s := n.Syn(); len(s) > 0 {
		giveUp = max(giveUp, s[len(s)-1])
	}
	return giveUp
}

// Validate checks the section on its own, for configurations built in code;
// it returns every problem as a *Problems (paths start with "localcloud"),
// or nil. A section without services must be empty (absent).
func (lc *LocalCloud) Validate() error {
	v := &validator{}
	v.localCloud("localcloud", lc)
	return problemsError(v.problems)
}

var (
	serviceNameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	labelRE       = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
)

// localCloud checks the localcloud section at path p.
func (v *validator) localCloud(p string, lc *LocalCloud) {
	if !lc.Present() {
		switch {
		case !reflect.DeepEqual(lc.AWS, CloudAWS{}):
			v.cloudAWS(p+".aws", lc)
		case !reflect.DeepEqual(*lc, LocalCloud{}):
			v.addf(p+".services", "at least one service is required, e.g. services: [{name: api, image: api:v1}] (or aws: {services: [...]} for ECS)")
		}
		return
	}
	if lc.TimeScale < 1 || lc.TimeScale > 1000 {
		v.addf(p+".time_scale", "must be between 1 and 1000, got %d", lc.TimeScale)
	}
	v.localCloudMetrics(p, lc.Metrics)
	if lc.AWS.Enabled() {
		v.cloudAWS(p+".aws", lc)
	}
	if !lc.Enabled() {
		return
	}
	if !labelRE.MatchString(lc.Project) {
		v.addf(p+".project", "%q: a project id is lower-case letters, digits and dashes", lc.Project)
	}
	if !labelRE.MatchString(lc.Region) {
		v.addf(p+".region", "%q: a region is lower-case letters, digits and dashes, e.g. asia-northeast1", lc.Region)
	}
	v.listMax(p+".unpullable_images", len(lc.UnpullableImages), maxUnpullable, "images")
	for i, img := range lc.UnpullableImages {
		if strings.TrimSpace(img) == "" {
			v.addf(fmt.Sprintf("%s.unpullable_images[%d]", p, i), "must not be empty")
		}
	}
	v.listMax(p+".services", len(lc.Services), maxServices, "services")
	names := map[string]bool{}
	for i := range lc.Services {
		names[lc.Services[i].Name] = true
	}
	seen := map[string]int{}
	for i := range lc.Services {
		sp := fmt.Sprintf("%s.services[%d]", p, i)
		s := &lc.Services[i]
		if first, dup := seen[s.Name]; dup && s.Name != "" {
			v.addf(sp+".name", "%q: duplicate service name; first used by services[%d]", s.Name, first)
		}
		seen[s.Name] = i
		v.cloudService(sp, s, names)
	}
	v.cloudNAT(p+".nat", lc.NAT)
	v.durationIn(p+".external_api.latency", lc.ExternalAPI.Latency, 0, maxSimulated)
	v.durationIn(p+".database.latency", lc.Database.Latency, 0, maxSimulated)
}

// localCloudMetrics checks the localcloud section's metrics timing.
func (v *validator) localCloudMetrics(p string, m CloudMetrics) {
	v.durationIn(p+".metrics.period", m.Period, minCloudPeriod, maxPeriod)
	v.durationIn(p+".metrics.lag_nat", m.LagNAT, 0, maxSimulated)
	v.durationIn(p+".metrics.lag_run", m.LagRun, 0, maxSimulated)
	switch {
	case m.Retention < m.Period:
		v.addf(p+".metrics.retention", "must be at least one period (%s), got %s", m.Period, m.Retention)
	case m.Retention.D() > maxRetention:
		v.addf(p+".metrics.retention", "must be at most %s, got %s", Duration(maxRetention), m.Retention)
	case m.Period.D() >= minCloudPeriod && m.Retention.D()/m.Period.D() > maxPoints:
		v.addf(p+".metrics.retention", "%s of %s periods is %d points per series; at most %d",
			m.Retention, m.Period, m.Retention.D()/m.Period.D(), maxPoints)
	}
}

// delay adds a problem when a simulated duration of the local cloud is
// negative, zero and !zeroOK, or longer than maxSimulated.
func (v *validator) delay(path string, d Duration, zeroOK bool) {
	lo := time.Duration(0)
	if !zeroOK {
		lo = time.Millisecond
	}
	v.durationIn(path, d, lo, maxSimulated)
}

func (v *validator) cloudService(p string, s *CloudService, names map[string]bool) {
	switch {
	case s.Name == "":
		v.addf(p+".name", "required, e.g. name: api")
	case !serviceNameRE.MatchString(s.Name):
		v.addf(p+".name", "%q: a service name is lower-case letters, digits and dashes, starts with a letter, at most 49 characters", s.Name)
	}
	if strings.TrimSpace(s.Image) == "" {
		v.addf(p+".image", "required, e.g. image: gcr.io/demo/api:v1")
	}
	switch {
	case s.MinInstances < 0:
		v.addf(p+".min_instances", "must not be negative, got %d", s.MinInstances)
	case s.MaxInstances >= 1 && s.MinInstances > s.MaxInstances:
		v.addf(p+".min_instances", "%d is more than max_instances (%d)", s.MinInstances, s.MaxInstances)
	}
	v.intIn(p+".max_instances", int64(s.MaxInstances), 1, maxInstances, "")
	if s.Concurrency < 1 || s.Concurrency > 1000 {
		v.addf(p+".concurrency", "must be between 1 and 1000, got %d", s.Concurrency)
	}
	if s.TargetUtilization < 1 || s.TargetUtilization > 100 {
		v.addf(p+".target_utilization", "a percentage between 1 and 100, got %d", s.TargetUtilization)
	}
	v.durationIn(p+".scale_interval", s.ScaleInterval, minScaleEvery, 10*time.Minute)
	v.delay(p+".scale_out_delay", s.ScaleOutDelay, true)
	v.delay(p+".cold_start", s.ColdStart, true)
	v.delay(p+".idle_retention", s.IdleRetention, true)
	v.delay(p+".shutdown_grace", s.ShutdownGrace, true)
	v.delay(p+".request_timeout", s.RequestTimeout, false)
	v.delay(p+".queue_timeout", s.QueueTimeout, true)
	v.delay(p+".egress_ready_delay", s.EgressReadyDelay, true)
	if s.Egress != EgressAllTraffic && s.Egress != EgressPrivateRangesOnly {
		v.addf(p+".egress", "%q: must be %s or %s", s.Egress, EgressAllTraffic, EgressPrivateRangesOnly)
	}
	a := s.App
	v.delay(p+".app.server_time", a.ServerTime, true)
	v.delay(p+".app.connect_timeout", a.ConnectTimeout, false)
	v.delay(p+".app.keepalive_timeout", a.KeepAliveTimeout, false)
	v.listMax(p+".app.calls", len(a.Calls), maxCalls, "calls")
	for i, c := range a.Calls {
		v.cloudCall(fmt.Sprintf("%s.app.calls[%d]", p, i), c, names)
	}
}

func (v *validator) cloudCall(p string, c CloudCall, names map[string]bool) {
	allowed := []string{ViaPublicURL}
	switch {
	case c.To == CallExternalAPI:
	case c.To == CallSelf:
		allowed = append(allowed, ViaLoopback)
	case c.To == CallDatabase:
		allowed = append(allowed, ViaPrivateIP)
	case strings.HasPrefix(c.To, CallServicePrefix):
		name := strings.TrimPrefix(c.To, CallServicePrefix)
		if !names[name] {
			v.addf(p+".to", "%q: no service called %q in localcloud.services", c.To, name)
		}
	default:
		v.addf(p+".to", "%q: must be external_api, self, database or service:NAME", c.To)
		allowed = nil
	}
	if c.Via != "" && allowed != nil && !slices.Contains(allowed, c.Via) {
		v.addf(p+".via", "%q: a call to %s can go via %s", c.Via, c.To, strings.Join(allowed, " or "))
	}
	if c.Via != "" && c.Via != ViaPublicURL && c.Via != ViaPrivateIP && c.Via != ViaLoopback {
		if allowed == nil {
			v.addf(p+".via", "%q: must be public-url, private-ip or loopback", c.Via)
		}
	}
	if !strings.HasPrefix(c.Path, "/") {
		v.addf(p+".path", "%q: must start with /", c.Path)
	}
	if c.Count < 1 || c.Count > 100 {
		v.addf(p+".count", "must be between 1 and 100, got %d", c.Count)
	}
}

func (v *validator) cloudNAT(p string, n CloudNAT) {
	if !labelRE.MatchString(n.Router) {
		v.addf(p+".router", "%q: lower-case letters, digits and dashes", n.Router)
	}
	if !labelRE.MatchString(n.Gateway) {
		v.addf(p+".gateway", "%q: lower-case letters, digits and dashes", n.Gateway)
	}
	if n.IPs < 1 || n.IPs > 300 {
		v.addf(p+".ips", "must be between 1 and 300, got %d", n.IPs)
	}
	if n.PortsPerIP < 1 || n.PortsPerIP > 64512 {
		v.addf(p+".ports_per_ip", "must be between 1 and 64512, got %d", n.PortsPerIP)
	}
	minP, maxP := n.PortsPerVM()
	switch {
	case n.MinPortsPerVM < 0:
		v.addf(p+".min_ports_per_vm", "must not be negative, got %d", n.MinPortsPerVM)
	case !isPow2(minP) || minP > 65536:
		v.addf(p+".min_ports_per_vm", "must be a power of two up to 65536, got %d", minP)
	case n.Dynamic && minP < 32:
		v.addf(p+".min_ports_per_vm", "dynamic allocation needs at least 32, got %d", minP)
	}
	switch {
	case n.MaxPortsPerVM != 0 && !n.Dynamic:
		v.addf(p+".max_ports_per_vm", "only used with dynamic: true")
	case n.Dynamic && (!isPow2(maxP) || maxP <= minP || maxP > 65536):
		v.addf(p+".max_ports_per_vm", "must be a power of two above min_ports_per_vm (%d) and at most 65536, got %d", minP, maxP)
	}
	v.delay(p+".dynamic_double_delay", n.DynamicDoubleDelay, true)
	v.delay(p+".tcp_time_wait", n.TCPTimeWait, true)
	v.delay(p+".block_release", n.BlockRelease, true)
	v.listMax(p+".syn_schedule", len(n.SYNSchedule), maxSYNs, "retransmissions")
	for i, d := range n.SYNSchedule {
		ip := fmt.Sprintf("%s.syn_schedule[%d]", p, i)
		switch {
		case d <= 0 || d.D() > maxSimulated:
			v.addf(ip, "must be positive and at most %s, got %s", Duration(maxSimulated), d)
		case i > 0 && d <= n.SYNSchedule[i-1]:
			v.addf(ip, "must be later than the retransmission before it (%s)", n.SYNSchedule[i-1])
		}
	}
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }
