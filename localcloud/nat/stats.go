package nat

import ()

// Stats is a snapshot of a NAT gateway's state.
type Stats struct {
	// Capacity is how many endpoints fit at MinPortsPerVM:
	// ⌊IPs × PortsPerIP / MinPortsPerVM⌋.
	Capacity int
	// AllocatedPorts is the number of ports in blocks, over all NAT IPs.
	AllocatedPorts int
	// AllocatedPortsByIP is AllocatedPorts per NAT IP label.
	AllocatedPortsByIP map[string]int
	// AllocationFailed is true while an attached endpoint has no block.
	AllocationFailed bool
	// OpenConnections counts open connections over all endpoints.
	OpenConnections int
	// NewConnections counts connections that got a NAT port.
	NewConnections int64
	// Drops counts dropped SYNs by reason (OUT_OF_RESOURCES).
	Drops map[string]int64
	// Endpoints holds every endpoint the gateway knows, by name.
	Endpoints map[string]EndpointStats
}

// EndpointStats is one endpoint's state.
type EndpointStats struct {
	// Ports is the endpoint's block size; 0 means it has no block.
	Ports int
	// Attached is false once the endpoint is detached (its block is held
	// until the release delay passes).
	Attached bool
	// Doubling is true while a dynamic doubling is in progress.
	Doubling bool
	// Drops counts this endpoint's dropped SYNs.
	Drops int64
	// NewConnections counts this endpoint's connections that got a port.
	NewConnections int64
	// Destinations holds port use per destination ("tcp 127.0.0.1:8080").
	Destinations map[string]DestinationStats
}

// DestinationStats is one endpoint's port use for one destination 3-tuple.
type DestinationStats struct {
	// Open counts open connections.
	Open int
	// TimeWait counts ports in TIME_WAIT, not reusable for this destination.
	TimeWait int
}

// Stats returns a snapshot of the gateway's state.
func (n *Gateway) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Stats{
		Capacity:           n.Capacity(),
		AllocatedPortsByIP: make(map[string]int, len(n.ipTag)),
		AllocationFailed:   n.anyWaitingLocked(nil),
		OpenConnections:    n.open,
		NewConnections:     n.newConns,
		Drops:              make(map[string]int64, len(n.drops)),
		Endpoints:          make(map[string]EndpointStats, len(n.endpoints)),
	}
	for i, tag := range n.ipTag {
		used := n.opts.PortsPerIP - n.ipFree[i]
		s.AllocatedPortsByIP[tag] = used
		s.AllocatedPorts += used
	}
	for r, c := range n.drops {
		s.Drops[r] = c
	}
	for name, e := range n.endpoints {
		es := EndpointStats{
			Ports:          e.ports,
			Attached:       e.attached,
			Doubling:       e.doubling,
			Drops:          e.drops,
			NewConnections: e.newConns,
			Destinations:   make(map[string]DestinationStats, len(e.dests)),
		}
		for k, d := range e.dests {
			if d.held() > 0 {
				es.Destinations[k] = DestinationStats{Open: d.open, TimeWait: d.timeWait}
			}
		}
		s.Endpoints[name] = es
	}
	return s
}
