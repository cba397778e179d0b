// Package cw is a TEMPORARY stub of the CloudWatch metric store (H3 owns
// the real one): only the signatures the alb package needs, with trivial
// bodies. Delete this file when the real package lands.
package cw

import (
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// Dimension is one CloudWatch dimension.
type Dimension struct{ Name, Value string }

// Store is the stub metric store; it keeps nothing.
type Store struct{}

// NewStore returns a stub store.
func NewStore(clk clock.Clock, period, lag time.Duration) *Store { return &Store{} }

// Put drops the sample.
func (s *Store) Put(namespace, metric string, dims []Dimension, at time.Time, value float64, unit string) {
}
