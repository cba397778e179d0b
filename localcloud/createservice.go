package localcloud

import (
	"context"
	"fmt"
	"slices"

	"github.com/cutover-dev/cutover/scenarios"
)

// CreateService adds a service to the running cloud, with its front end,
// autoscaler and first revision, and returns the revision's name at once;
// WaitRevision waits for it to be ready. cfg is a whole service (call
// cfg.Defaults() before setting fields); first sets what the first revision
// changes over cfg (its env, suffix, traffic; nil traffic is 100% to
// LATEST). The name must not be taken (ErrAlreadyExists); an invalid cfg
// wraps ErrInvalidArgument.
func (c *Cloud) CreateService(ctx context.Context, cfg scenarios.CloudService, first RevisionSpec) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("create service %q: %w", cfg.Name, err)
	}
	cfg.App.Calls = slices.Clone(cfg.App.Calls)
	check := c.cfg
	check.Services = append(slices.Clone(c.cfg.Services), cfg)
	if err := check.Validate(); err != nil {
		return "", fmt.Errorf("create service %q: %w: %w", cfg.Name, err, ErrInvalidArgument)
	}
	exists := func() error {
		if c.closed {
			return ErrClosed
		}
		if _, ok := c.services[cfg.Name]; ok {
			return fmt.Errorf("create service %q: %w", cfg.Name, ErrAlreadyExists)
		}
		return nil
	}
	c.mu.Lock()
	err := exists()
	c.mu.Unlock()
	if err != nil {
		return "", err
	}
	s, err := newService(ctx, c, cfg)
	if err != nil {
		return "", fmt.Errorf("create service %q: %w", cfg.Name, err)
	}
	c.mu.Lock()
	if err := exists(); err != nil {
		c.mu.Unlock()
		s.close()
		return "", err
	}
	c.services[cfg.Name] = s
	c.order = append(c.order, cfg.Name)
	c.mu.Unlock()

	if first.Traffic == nil {
		first.Traffic = []TrafficTarget{{Latest: true, Percent: 100}}
	}
	rev, err := s.deploy(first, true)
	if err != nil {
		c.mu.Lock()
		delete(c.services, cfg.Name)
		c.order = slices.DeleteFunc(c.order, func(n string) bool { return n == cfg.Name })
		c.mu.Unlock()
		s.close()
		return "", fmt.Errorf("create service %q: %w", cfg.Name, err)
	}
	s.startScaler()
	return rev.name, nil
}
