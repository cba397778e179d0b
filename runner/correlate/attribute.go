package correlate

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover/results"
)

// ClassUnclassified holds, in a bucket's cells, the errors a window
// counted without a class (Window.Errors beyond the sum of its classes).
const ClassUnclassified = "unclassified"

// cellsOf splits every bucket's errors by class: the result classes only
// (never ok, never a derived counter, which counts results of a class a
// second time), so a bucket's cells add up to its Errors exactly. Errors no
// class counts go to ClassUnclassified; a bucket whose classes count more
// than its errors is one ClassUnclassified cell.
func cellsOf(buckets []Bucket) []map[results.Class]int64 {
	out := make([]map[results.Class]int64, len(buckets))
	for k, b := range buckets {
		cell := map[results.Class]int64{}
		var sum int64
		for c, n := range b.ByClass {
			if c != results.ClassOK && !results.IsDerived(c) && n > 0 {
				cell[c] = n
				sum += n
			}
		}
		switch {
		case sum > b.Errors:
			cell = map[results.Class]int64{}
			if b.Errors > 0 {
				cell[ClassUnclassified] = b.Errors
			}
		case sum < b.Errors:
			cell[ClassUnclassified] = b.Errors - sum
		}
		out[k] = cell
	}
	return out
}

// claim is the errors a finding's evidence covers: in bucket k at most
// limit[k] errors, and of each class at most of[k][class] (a nil of[k]:
// every class in full). A nil claim covers nothing.
type claim struct {
	limit []int64
	of    []map[results.Class]int64
}

// newClaim returns a claim over n buckets that covers nothing yet.
func newClaim(n int) claim {
	return claim{limit: make([]int64, n), of: make([]map[results.Class]int64, n)}
}

// claimAbove claims the errors of the classes keep selects (nil: all)
// beyond what rate predicts for the requests, rounded to whole errors, in
// the marked buckets whose errors are significantly above rate (in all of
// them when none is by itself, but they are together): errors within the
// noise of the rate are the rate's.
func (d *diagnosis) claimAbove(m mask, keep func(class results.Class) bool, rate float64) claim {
	errs := make([]float64, len(d.buckets))
	for k, cell := range d.cells {
		for c, v := range cell {
			if keep == nil || keep(c) {
				errs[k] += float64(v)
			}
		}
	}
	if above := d.aboveIn(errs, m, rate); above.count() > 0 {
		m = above
	}
	cl := newClaim(len(d.buckets))
	for k := range d.buckets {
		if !m[k] {
			continue
		}
		of := map[results.Class]int64{}
		var n int64
		for c, v := range d.cells[k] {
			if keep == nil || keep(c) {
				of[c] = v
				n += v
			}
		}
		cl.of[k] = of
		cl.limit[k] = max(0, n-expected(rate, d.buckets[k].Requests))
	}
	return cl
}

// expected is how many errors rate predicts in req requests, whole.
func expected(rate float64, req int64) int64 {
	return int64(math.Round(rate * float64(req)))
}

// take takes from the errors left in one bucket what a claim on it covers:
// at most limit, of each class at most of[class]. When the claim covers
// fewer than are available it takes from each class in proportion
// (largest remainder, ties in class order), so a finding's classes keep
// the mix the bucket had. It does not change left.
func take(left map[results.Class]int64, limit int64, of map[results.Class]int64) map[results.Class]int64 {
	avail := map[results.Class]int64{}
	var sum int64
	for c, n := range left {
		if of != nil {
			n = min(n, of[c])
		}
		if n > 0 {
			avail[c] = n
			sum += n
		}
	}
	if sum <= limit {
		return avail
	}
	out := map[results.Class]int64{}
	if limit <= 0 {
		return out
	}
	classes := slices.Sorted(maps.Keys(avail))
	type rest struct {
		class results.Class
		frac  float64
	}
	var rests []rest
	var given int64
	for _, c := range classes {
		exact := float64(avail[c]) * float64(limit) / float64(sum)
		whole := int64(exact)
		out[c] = whole
		given += whole
		rests = append(rests, rest{c, exact - float64(whole)})
	}
	slices.SortStableFunc(rests, func(a, b rest) int { return cmp.Compare(b.frac, a.frac) })
	for i := 0; given < limit; i++ {
		out[rests[i%len(rests)].class]++
		given++
	}
	for c, n := range out {
		if n == 0 {
			delete(out, c)
		}
	}
	return out
}

func total(m map[results.Class]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// covered is how many of the errors in cells the claim covers.
func (cl claim) covered(cells []map[results.Class]int64) int64 {
	var n int64
	for k := range cl.limit {
		if cl.limit[k] > 0 {
			n += total(take(cells[k], cl.limit[k], cl.of[k]))
		}
	}
	return n
}

// accounting is the findings after each error has been given to at most
// one of them.
type accounting struct {
	causes, ruledOut []results.Finding
	unexplained      int64
}

// attributionOrder is the order in which findings take the errors their
// evidence covers: a high- or medium-confidence finding before a low one,
// then the more specific, more actionable cause first (causeOrder). So the
// errors two findings both cover go to the one that says more about them:
// upstream-timeout takes the timeouts before pre-existing-errors, an
// allocation failure the drops it causes.
func attributionOrder(a, b candidate) int {
	low := func(c candidate) bool { return c.f.Confidence == ConfidenceLow }
	return cmp.Or(
		compareBool(low(a), low(b)),
		cmp.Compare(slices.Index(causeOrder, a.f.Cause), slices.Index(causeOrder, b.f.Cause)))
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// attribute gives every error of the buckets to at most one candidate:
// in attribution order, each takes what its claim covers of the errors
// still left, bucket by bucket and class by class. It sets each finding's
// Explained (what its claim covers of all the errors), Primary (what it
// took), AlsoConsistent (the others whose claims cover some of what it
// took), and splits the candidates into the causes, the primary cause of
// the most errors first, and those ruled out.
func (d *diagnosis) attribute(cands []candidate) accounting {
	cands = slices.Clone(cands)
	slices.SortStableFunc(cands, attributionOrder)
	a := attribution{cells: d.cells, cands: cands}
	left := a.takeInTurn()
	a.setAlsoConsistent()
	return d.account(a, left)
}

// attribution is the errors the candidates took, in attribution order.
type attribution struct {
	cells []map[results.Class]int64 // errors per bucket by class
	cands []candidate
	// took[i][k] is what candidate i took of bucket k's errors, by class.
	took [][]map[results.Class]int64
}

// takeInTurn lets each candidate in turn take what its claim covers of the
// errors still left, setting its Explained and Primary, and returns what
// is left.
func (a *attribution) takeInTurn() (left []map[results.Class]int64) {
	left = make([]map[results.Class]int64, len(a.cells))
	for k, c := range a.cells {
		left[k] = maps.Clone(c)
	}
	a.took = make([][]map[results.Class]int64, len(a.cands))
	for i := range a.cands {
		c := &a.cands[i]
		c.f.Explained = c.claim.covered(a.cells)
		a.took[i] = make([]map[results.Class]int64, len(a.cells))
		for k := range c.claim.limit {
			if c.claim.limit[k] <= 0 {
				continue
			}
			t := take(left[k], c.claim.limit[k], c.claim.of[k])
			for cl, n := range t {
				left[k][cl] -= n
			}
			a.took[i][k] = t
			c.f.Primary += total(t)
		}
	}
	return left
}

// shared is how many of the errors i took j's claim also covers: how much
// less j would cover without them. (A claim of "this many errors of the
// bucket", as the pre-cutover rate's, shares none of the errors above that
// many.)
func (a *attribution) shared(i, j int) int64 {
	var n int64
	cj := a.cands[j].claim
	for k, t := range a.took[i] {
		if t == nil || cj.limit == nil || cj.limit[k] <= 0 {
			continue
		}
		without := maps.Clone(a.cells[k])
		for c, v := range t {
			without[c] -= v
		}
		n += total(take(a.cells[k], cj.limit[k], cj.of[k])) - total(take(without, cj.limit[k], cj.of[k]))
	}
	return n
}

// setAlsoConsistent names, for each candidate, the others whose claims
// cover some of what it took, most shared first.
func (a *attribution) setAlsoConsistent() {
	type also struct {
		cause string
		n     int64
	}
	for i := range a.cands {
		var others []also
		for j := range a.cands {
			if j != i {
				if n := a.shared(i, j); n > 0 {
					others = append(others, also{a.cands[j].f.Cause, n})
				}
			}
		}
		slices.SortStableFunc(others, func(a, b also) int { return cmp.Compare(b.n, a.n) })
		for _, o := range others {
			a.cands[i].f.AlsoConsistent = append(a.cands[i].f.AlsoConsistent, o.cause)
		}
	}
}

// account splits the candidates into the causes (the primary cause of
// some error, or explaining the verdict by itself), the primary cause of
// the most errors first, and those ruled out, and counts the errors left.
func (d *diagnosis) account(a attribution, left []map[results.Class]int64) accounting {
	var acc accounting
	for _, l := range left {
		acc.unexplained += total(l)
	}
	for i, c := range a.cands {
		f := c.f
		switch {
		case f.Primary > 0 || c.verdict:
			if f.Primary > 0 && f.Primary < f.Explained {
				f.Evidence = append(f.Evidence, d.sharedText(a.cands, a.took, i, a.shared))
			}
			acc.causes = append(acc.causes, f)
		case c.mechanism && f.Explained > 0:
			f.Evidence = append(f.Evidence, mechanismText(a.cands, i, a.shared))
			acc.causes = append(acc.causes, f)
		default:
			f.RuledOut = ruledOutText(a.cands, i, a.shared)
			f.Remedy = nil
			f.AlsoConsistent = nil
			acc.ruledOut = append(acc.ruledOut, f)
		}
	}
	slices.SortStableFunc(acc.causes, func(a, b results.Finding) int { return cmp.Compare(b.Primary, a.Primary) })
	slices.SortStableFunc(acc.ruledOut, func(a, b results.Finding) int { return cmp.Compare(b.Explained, a.Explained) })
	return acc
}

// sharedText says, for a cause that took only part of the errors its
// evidence covers, who took the rest.
func (d *diagnosis) sharedText(cands []candidate, took [][]map[results.Class]int64, i int, shared func(i, j int) int64) string {
	f := cands[i].f
	var by []string
	for j := range cands {
		if j != i && took[j] != nil && shared(j, i) > 0 {
			by = append(by, cands[j].f.Cause)
		}
	}
	s := fmt.Sprintf("It is the primary cause of %s of the %s its evidence covers", numInt(f.Primary), plural(f.Explained, "errors"))
	if len(by) > 0 {
		s += fmt.Sprintf("; the other %s are attributed first to %s", numInt(f.Explained-f.Primary), strongerText(by))
	}
	return s + "."
}

// mechanismText says, for a mechanism whose errors a root cause took,
// that it is how they came about.
func mechanismText(cands []candidate, i int, shared func(i, j int) int64) string {
	f := cands[i].f
	var by []string
	for j := range cands {
		if j != i && shared(j, i) > 0 {
			by = append(by, cands[j].f.Cause)
		}
	}
	s := fmt.Sprintf("It is how the errors came about, not why: the %s its evidence covers %s attributed first to ", plural(f.Explained, "errors"), verb(f.Explained, "is", "are"))
	if len(by) == 0 {
		return s + "other findings."
	}
	return s + strings.Join(by, ", ") + ", the root cause."
}

// strongerText names the findings that took errors first: "X, a stronger
// or more specific cause".
func strongerText(by []string) string {
	if len(by) == 1 {
		return by[0] + ", a stronger or more specific cause"
	}
	return strings.Join(by, ", ") + ", stronger or more specific causes"
}

// ruledOutText says why candidate i is not among the causes.
func ruledOutText(cands []candidate, i int, shared func(i, j int) int64) string {
	f := cands[i].f
	if f.Explained == 0 {
		return "it explains no client error"
	}
	var by []string
	for j := range cands {
		if j != i && shared(j, i) > 0 {
			by = append(by, cands[j].f.Cause)
		}
	}
	if len(by) == 0 { // each of the others alone would leave it as much
		return fmt.Sprintf("the %s its evidence covers %s the primary errors of other findings", plural(f.Explained, "errors"), verb(f.Explained, "is", "are"))
	}
	return fmt.Sprintf("the %s its evidence covers %s attributed first to %s", plural(f.Explained, "errors"), verb(f.Explained, "is", "are"), strongerText(by))
}

// verb picks the singular or the plural form for a count.
func verb(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
