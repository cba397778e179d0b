package correlate

import (
	"time"

	"github.com/cutover-dev/cutover/results"
)

// t0 is the start of every synthetic timeline and of the metric grid.
var t0 = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

const minute = time.Minute

// at returns t0 plus m minutes and s seconds.
func at(m, s int) time.Time {
	return t0.Add(time.Duration(m)*minute + time.Duration(s)*time.Second)
}

// timeline returns 10-s windows over minutes, reqPerMin requests a minute,
// and the errors errs gives for a minute (per class or derived counter,
// per minute) spread over the minute's six windows. Window.Errors is the
// sum of the classes (derived counters are not classes). Revisions, when
// given for a minute, say which revision served the minute's requests.
func timeline(minutes int, reqPerMin int64, errs func(m int) map[results.Class]int64, rev func(m int) string) []results.Window {
	const perMin = 6
	var out []results.Window
	for m := range minutes {
		var e map[results.Class]int64
		if errs != nil {
			e = errs(m)
		}
		for w := range perMin {
			win := results.Window{Start: at(m, w*10), ByClass: map[results.Class]int64{}}
			win.Requests = share(reqPerMin, perMin, w)
			var errors int64
			for c, n := range e {
				k := share(n, perMin, w)
				if k == 0 {
					continue
				}
				win.ByClass[c] = k
				if !results.IsDerived(c) {
					errors += k
				}
			}
			win.Errors = errors
			win.ByClass[results.ClassOK] = win.Requests - errors
			if rev != nil {
				win.ByRevision = map[string]int64{rev(m): win.Requests}
			}
			out = append(out, win)
		}
	}
	return out
}

// share splits n into parts and returns part i (the remainder goes to the
// first parts).
func share(n int64, parts, i int) int64 {
	s := n / int64(parts)
	if int64(i) < n%int64(parts) {
		s++
	}
	return s
}

// series returns a series with one point a minute from t0.
func series(query results.Query, labels map[string]string, vals ...float64) results.Series {
	s := results.Series{Query: query, Labels: labels}
	for i, v := range vals {
		s.Points = append(s.Points, results.Point{Start: at(i, 0), End: at(i+1, 0), Value: v})
	}
	return s
}

// drops is the OUT_OF_RESOURCES drop series.
func drops(vals ...float64) results.Series {
	return series(results.QueryNATDroppedSent, map[string]string{"reason": results.DropOutOfResources}, vals...)
}

// zeros returns n zeros.
func zeros(n int) []float64 { return make([]float64, n) }

// ev returns an event.
func ev(kind results.EventKind, t time.Time, details ...string) results.Event {
	e := results.Event{Kind: kind, At: t}
	if len(details) > 0 {
		e.Details = map[string]string{}
		for i := 0; i+1 < len(details); i += 2 {
			e.Details[details[i]] = details[i+1]
		}
	}
	return e
}

// cutoverEvents is a deploy at minute 3 + 10 s whose revision api-00002 is
// ready and takes all traffic at minute 3 + 40 s.
func cutoverEvents() []results.Event {
	return []results.Event{
		ev(results.EventDeployStart, at(3, 10)),
		ev(results.EventRevisionCreated, at(3, 15), "revision", "api-00002"),
		ev(results.EventRevisionReady, at(3, 40), "revision", "api-00002"),
		ev(results.EventTrafficApplied, at(3, 45), "traffic", "LATEST=100%"),
	}
}

// revAfter says which revision serves minute m when the cutover is at
// minute 3.
func revAfter(m int) string {
	if m < 4 {
		return "api-00001"
	}
	return "api-00002"
}

// causes lists the findings' causes in order.
func causes(fs []results.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Cause
	}
	return out
}

// find returns the finding of cause.
func find(fs []results.Finding, cause string) (results.Finding, bool) {
	for _, f := range fs {
		if f.Cause == cause {
			return f, true
		}
	}
	return results.Finding{}, false
}

// isNAT reports whether a cause names Cloud NAT.
func isNAT(cause string) bool {
	return cause == CauseNATPortExhaustion || cause == CauseNATAllocationFailure || cause == CauseNATEndpointConflict
}
