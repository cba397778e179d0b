// Package alb is a TEMPORARY stub by H1 with the contract's signatures, so
// localcloud/awscloud compiles until H2's real load balancer lands. Every
// registered target reports healthy. Delete this file when merging.
package alb

import (
	"context"
	"net/http"
	"sync"

	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
	"github.com/cutover-dev/cutover/localcloud/clock"
	"github.com/cutover-dev/cutover/scenarios"
)

// Config is the contract's load balancer configuration.
type Config struct {
	Name, Region, Account string
	LB                    scenarios.ALBLoadBalancer
	HealthPath            string
	Clock                 clock.Clock
	Store                 *cw.Store
	Logf                  func(format string, args ...any)
}

// LoadBalancer is the stub balancer.
type LoadBalancer struct {
	cfg     Config
	mu      sync.Mutex
	targets map[string]string
}

// Start returns a stub balancer.
func Start(ctx context.Context, cfg Config) (*LoadBalancer, error) {
	return &LoadBalancer{cfg: cfg, targets: map[string]string{}}, nil
}

// URL is a placeholder.
func (lb *LoadBalancer) URL() string { return "http://127.0.0.1:1" }

// ARN is the balancer's ARN.
func (lb *LoadBalancer) ARN() string {
	return "arn:aws:elasticloadbalancing:" + lb.cfg.Region + ":" + lb.cfg.Account + ":loadbalancer/app/" + lb.cfg.Name + "/0123456789abcdef"
}

// TargetGroupARN is the target group's ARN.
func (lb *LoadBalancer) TargetGroupARN() string {
	return "arn:aws:elasticloadbalancing:" + lb.cfg.Region + ":" + lb.cfg.Account + ":targetgroup/" + lb.cfg.Name + "/0123456789abcdef"
}

// Register adds a target.
func (lb *LoadBalancer) Register(id, addr string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	lb.targets[id] = addr
}

// Deregister removes a target.
func (lb *LoadBalancer) Deregister(id string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	delete(lb.targets, id)
}

// Health says healthy for a registered target.
func (lb *LoadBalancer) Health(id string) (state, reason string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if _, ok := lb.targets[id]; ok {
		return "healthy", ""
	}
	return "unused", "Target.NotRegistered"
}

// Close does nothing.
func (lb *LoadBalancer) Close(ctx context.Context) error { return nil }

// API answers 400.
func API(lbs func() []*LoadBalancer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "stub", http.StatusBadRequest) })
}
