// Package lctest builds local cloud configurations for the tests of the
// local cloud's packages (the world, localcloud/gcp): a defaulted service,
// call and section, as a scenario would resolve them. It imports no local
// cloud package, so the world's own tests can use it too.
package lctest

import "github.com/cutover-dev/cutover/scenarios"

// Service returns a defaulted service called name, image
// gcr.io/demo/NAME:v1, with the given calls.
func Service(name string, calls ...scenarios.CloudCall) scenarios.CloudService {
	var s scenarios.CloudService
	s.Defaults()
	s.Name = name
	s.Image = "gcr.io/demo/" + name + ":v1"
	s.App.Calls = calls
	return s
}

// Call returns a defaulted call to to, changed by edit.
func Call(to string, edit ...func(*scenarios.CloudCall)) scenarios.CloudCall {
	var c scenarios.CloudCall
	c.Defaults()
	c.To = to
	for _, e := range edit {
		e(&c)
	}
	return c
}

// Config returns a defaulted localcloud section at time scale scale with
// seed 1 and the given services.
func Config(scale int, services ...scenarios.CloudService) scenarios.LocalCloud {
	var lc scenarios.LocalCloud
	lc.Defaults()
	lc.TimeScale = scale
	lc.Seed = 1
	lc.Services = services
	return lc
}
