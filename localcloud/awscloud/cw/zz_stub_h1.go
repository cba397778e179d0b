// Package cw is a TEMPORARY stub by H1 with the contract's signatures, so
// localcloud/awscloud compiles until H3's real metric store lands. It
// keeps nothing. Delete this file when merging.
package cw

import (
	"net/http"
	"time"

	"github.com/cutover-dev/cutover/localcloud/clock"
)

// Dimension is a CloudWatch dimension.
type Dimension struct{ Name, Value string }

// Store is the stub store.
type Store struct{}

// NewStore returns a stub store.
func NewStore(clk clock.Clock, period, lag time.Duration) *Store { return &Store{} }

// Put drops the sample.
func (s *Store) Put(namespace, metric string, dims []Dimension, at time.Time, value float64, unit string) {
}

// Handler answers 400.
func Handler(s *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "stub", http.StatusBadRequest) })
}
