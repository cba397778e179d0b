package nat

import (
	"sort"
	"time"

	"github.com/cutover-dev/cutover/scenarios"
)

// dynamicHighWater is the share of a block in use for one destination at
// which dynamic allocation asks for a doubling ("close to being out of ports").
const dynamicHighWater = 0.9

// Options configures a gateway. Every field is resolved: FromScenario
// builds them from a defaulted and validated scenarios.CloudNAT, the one
// place their defaults live. Durations are simulated.
type Options struct {
	// IPs is the number of NAT IPs.
	IPs int
	// PortsPerIP is the number of TCP ports per NAT IP.
	PortsPerIP int
	// Dynamic selects dynamic port allocation; false is static.
	Dynamic bool
	// MinPortsPerVM is each endpoint's block, rounded up to a power of 2.
	MinPortsPerVM int
	// MaxPortsPerVM caps dynamic growth, rounded up to a power of 2 and at
	// least MinPortsPerVM (static: MinPortsPerVM).
	MaxPortsPerVM int
	// DynamicDoubleDelay is how long a doubling takes; SYNs that find no
	// free port meanwhile are dropped.
	DynamicDoubleDelay time.Duration
	// TCPTimeWait is how long a 5-tuple stays unusable after its connection
	// closes.
	TCPTimeWait time.Duration
	// BlockReleaseDelay is how long a detached endpoint's block is held
	// before it is released.
	BlockReleaseDelay time.Duration
	// SYNSchedule holds the retransmission offsets from the first SYN.
	SYNSchedule []time.Duration
	// SYNGiveUp is when the kernel gives up on a SYN that is never answered
	// and the dial fails with ETIMEDOUT, if the caller's ctx has not ended it
	// first (never before the last retransmission).
	SYNGiveUp time.Duration
}

// FromScenario returns the options of the gateway a localcloud section's
// nat describes; n must be defaulted and validated (scenarios resolves
// every default, see scenarios.LocalCloud.Defaults).
func FromScenario(n scenarios.CloudNAT) Options {
	minPorts, maxPorts := n.PortsPerVM()
	return Options{
		IPs:                n.IPs,
		PortsPerIP:         n.PortsPerIP,
		Dynamic:            n.Dynamic,
		MinPortsPerVM:      minPorts,
		MaxPortsPerVM:      maxPorts,
		DynamicDoubleDelay: n.DynamicDoubleDelay.D(),
		TCPTimeWait:        n.TCPTimeWait.D(),
		BlockReleaseDelay:  n.BlockRelease.D(),
		SYNSchedule:        n.Syn(),
		SYNGiveUp:          n.SYNGiveUp(),
	}
}

// normalized returns o with port counts rounded to powers of 2 and the SYN
// schedule copied and in order. It sets no default.
func (o Options) normalized() Options {
	o.IPs = max(o.IPs, 1)
	o.MinPortsPerVM = ceilPow2(o.MinPortsPerVM)
	o.MaxPortsPerVM = ceilPow2(o.MaxPortsPerVM)
	if !o.Dynamic || o.MaxPortsPerVM < o.MinPortsPerVM {
		o.MaxPortsPerVM = o.MinPortsPerVM
	}
	o.SYNSchedule = append([]time.Duration(nil), o.SYNSchedule...)
	sort.Slice(o.SYNSchedule, func(i, j int) bool { return o.SYNSchedule[i] < o.SYNSchedule[j] })
	if n := len(o.SYNSchedule); n > 0 && o.SYNGiveUp < o.SYNSchedule[n-1] {
		o.SYNGiveUp = o.SYNSchedule[n-1]
	}
	return o
}

// ceilPow2 rounds n up to a power of 2 (n ≥ 1).
func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}
