// Package clock is the local cloud's time base: the Clock interface every
// part of the simulated world waits on, the scaled wall clock that runs it
// in production (Scaled), and a manual Fake that unit tests advance by hand.
//
// It is a package of its own, not part of the world, because the world and
// the Cloud NAT model (localcloud/nat) both wait on it and nat must not
// import the world. It owns no simulated behaviour: a Clock converts and
// waits, nothing more. The time-scale arithmetic itself is declared once,
// in package scenarios (WallDuration, SimulatedDuration).
package clock
