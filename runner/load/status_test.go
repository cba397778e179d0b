package load

import (
	"maps"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

// TestByStatusOnLoopback runs a closed-model load at a server answering
// the n-th request it handles from a script of status codes, and checks
// that every code is counted exactly, in the totals, the windows and the
// grid, and that a result without a response (a malformed reply: a
// transport failure) is not.
func TestByStatusOnLoopback(t *testing.T) {
	t.Parallel()
	type step struct {
		code  int // 0: a reply that is not HTTP
		times int
	}
	for _, tc := range []struct {
		name      string
		script    []step
		want      map[string]int64
		transport int64
	}{
		{
			name:   "status_other codes and 504",
			script: []step{{501, 10}, {418, 2}, {504, 3}, {200, 15}},
			want:   map[string]int64{"501": 10, "418": 2, "504": 3, "200": 15},
		},
		{
			name:      "transport failures are not counted",
			script:    []step{{501, 4}, {0, 3}, {200, 13}},
			want:      map[string]int64{"501": 4, "200": 13},
			transport: 3,
		},
		{
			name:   "only 2xx",
			script: []step{{200, 12}, {204, 8}},
			want:   map[string]int64{"200": 12, "204": 8},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var codes []int
			for _, s := range tc.script {
				for range s.times {
					codes = append(codes, s.code)
				}
			}
			var n atomic.Int64
			srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				code := 200
				if i < len(codes) {
					code = codes[i]
				}
				if code == 0 {
					conn, buf, err := w.(http.Hijacker).Hijack()
					if err != nil {
						t.Error(err)
						return
					}
					buf.WriteString("NOT HTTP\r\n\r\n")
					buf.Flush()
					conn.Close()
					return
				}
				w.WriteHeader(code)
			}))
			l := closed(4)
			sum, rs := attack(t, l, srv.URL, uint64(len(codes)), func(o *Options) { o.GridPeriod = time.Second })

			if !maps.Equal(sum.Totals.ByStatus, tc.want) {
				t.Errorf("totals by_status = %v, want %v", sum.Totals.ByStatus, tc.want)
			}
			if got := sum.Totals.ByClass[results.FetchFailed]; got != tc.transport {
				t.Errorf("fetch_failed = %d, want %d", got, tc.transport)
			}
			if sum.Totals.Requests != int64(len(codes)) {
				t.Errorf("requests = %d, want %d", sum.Totals.Requests, len(codes))
			}
			// The windows' and the grid's counts sum to the totals'.
			for name, ws := range map[string][]results.Window{"timeline": sum.Timeline, "grid": sum.Grid} {
				got := map[string]int64{}
				for _, w := range ws {
					for code, c := range w.ByStatus {
						got[code] += c
					}
				}
				if !maps.Equal(got, tc.want) {
					t.Errorf("%s by_status sums to %v, want %v", name, got, tc.want)
				}
			}
			// results.bin agrees code by code.
			fromBin := map[string]int64{}
			for _, r := range rs {
				if r.Code != 0 {
					fromBin[strconv.Itoa(int(r.Code))]++
				}
			}
			if !maps.Equal(fromBin, tc.want) {
				t.Errorf("results.bin codes = %v, want %v", fromBin, tc.want)
			}
		})
	}
}

// TestStatusCounts checks the per-tally array: codes outside 100–599 count
// under "other", no response is not counted, and an empty count is nil.
func TestStatusCounts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []uint16
		want  map[string]int64
	}{
		{"none", nil, nil},
		{"no response", []uint16{0, 0}, nil},
		{"edges", []uint16{100, 599, 599}, map[string]int64{"100": 1, "599": 2}},
		{"out of range", []uint16{99, 600, 999, 1}, map[string]int64{results.StatusOther: 4}},
		{"mixed", []uint16{200, 501, 418, 501, 0}, map[string]int64{"200": 1, "501": 2, "418": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s statusCounts
			for _, c := range tc.codes {
				s.add(c)
			}
			if got := s.byStatus(); !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("byStatus = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStatusClassAgreesWithClassify checks that results.StatusClass, which
// the reporters use to say which codes make up a class, sorts every code as
// the engine's classifier does.
func TestStatusClassAgreesWithClassify(t *testing.T) {
	for code := uint16(1); code < 1000; code++ {
		var s statusCounts
		s.add(code)
		for key := range s.byStatus() {
			want := classNames[classify(&vegeta.Result{Code: code})]
			if got := results.StatusClass(key); got != want {
				t.Errorf("code %d (key %q): StatusClass = %s, classify = %s", code, key, got, want)
			}
		}
	}
}
