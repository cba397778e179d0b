package gcp

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/cutover-dev/cutover/localcloud"
)

// tsFilter is a parsed Cloud Monitoring time-series filter: exactly one
// metric type, and conditions on the resource type and on metric and
// resource labels, all of which a series must meet.
//
// The grammar is the part of the Monitoring filter language the drivers
// use:
//
//	filter := cond { "AND" cond }
//	cond   := field ( "=" | "!=" ) value
//	field  := "metric.type" | "resource.type"
//	        | ( "metric" | "resource" ) "." ( "label" | "labels" ) "." NAME
//	value  := a double- or single-quoted string | an integer
//
// metric.type takes "=" only. Anything else (OR, NOT, parentheses,
// functions such as starts_with, other fields, other operators) is an
// error, never ignored.
type tsFilter struct {
	metricType string
	conds      []filterCond
}

// filterCond is one condition on a series.
type filterCond struct {
	field  string // "resource.type", "metric.label" or "resource.label"
	label  string // for the label fields
	negate bool   // !=
	value  string
}

var labelNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseFilter parses a ListTimeSeries filter.
func parseFilter(s string) (*tsFilter, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	f := &tsFilter{}
	i := 0
	for {
		field, op, val := toks[i], toks[i+1], toks[i+2]
		switch {
		case field.kind == tokEOF:
			return nil, fmt.Errorf("filter %q: expected a condition at offset %d", s, field.pos)
		case field.kind != tokIdent || isKeyword(field.text):
			return nil, fmt.Errorf("filter %q: expected a field at offset %d, got %q", s, field.pos, field.text)
		case op.kind == tokPunct && op.text == "(":
			return nil, fmt.Errorf("filter %q: function %s() is not supported by the local cloud", s, field.text)
		case op.kind != tokOp || op.text != "=" && op.text != "!=":
			return nil, fmt.Errorf("filter %q: operator %q at offset %d is not supported (use = or !=)", s, op.text, op.pos)
		case val.kind != tokString && val.kind != tokNumber:
			return nil, fmt.Errorf("filter %q: expected a quoted string at offset %d, got %q", s, val.pos, val.text)
		}
		negate := op.text == "!="
		switch name := field.text; {
		case name == "metric.type":
			if negate {
				return nil, fmt.Errorf("filter %q: metric.type takes = only", s)
			}
			if f.metricType != "" {
				return nil, fmt.Errorf("filter %q: metric.type is given twice; name exactly one metric type", s)
			}
			f.metricType = val.text
		case name == "resource.type":
			f.conds = append(f.conds, filterCond{field: "resource.type", negate: negate, value: val.text})
		default:
			kind, label, ok := labelField(name)
			if !ok {
				return nil, fmt.Errorf("filter %q: field %q is not supported by the local cloud "+
					"(metric.type, resource.type, metric.labels.NAME, resource.labels.NAME)", s, name)
			}
			f.conds = append(f.conds, filterCond{field: kind, label: label, negate: negate, value: val.text})
		}
		i += 3
		switch next := toks[i]; {
		case next.kind == tokEOF:
			if f.metricType == "" {
				return nil, fmt.Errorf("filter %q: a metric.type = \"…\" condition is required", s)
			}
			return f, nil
		case next.kind == tokIdent && next.text == "AND":
			i++
		case next.kind == tokIdent && isKeyword(next.text):
			return nil, fmt.Errorf("filter %q: %s is not supported by the local cloud (join conditions with AND)", s, next.text)
		default:
			return nil, fmt.Errorf("filter %q: expected AND at offset %d, got %q", s, next.pos, next.text)
		}
	}
}

// labelField splits metric.label(s).NAME and resource.label(s).NAME into
// "metric.label" or "resource.label" and NAME.
func labelField(name string) (kind, label string, ok bool) {
	for _, prefix := range []string{"metric", "resource"} {
		for _, form := range []string{".labels.", ".label."} {
			if rest, found := strings.CutPrefix(name, prefix+form); found && labelNameRE.MatchString(rest) {
				return prefix + ".label", rest, true
			}
		}
	}
	return "", "", false
}

func isKeyword(s string) bool { return s == "AND" || s == "OR" || s == "NOT" }

// match reports whether a series meets every condition (its metric type
// is the recorder's query).
func (f *tsFilter) match(s localcloud.Series) bool {
	for _, c := range f.conds {
		var v string
		switch c.field {
		case "resource.type":
			v = s.Resource.Type
		case "metric.label":
			v = s.MetricLabels[c.label]
		case "resource.label":
			v = s.Resource.Labels[c.label]
		}
		if (v == c.value) == c.negate {
			return false
		}
	}
	return true
}

type tokKind int

const (
	tokEOF    tokKind = iota
	tokIdent          // metric.type, AND
	tokString         // "…" or '…', unquoted
	tokNumber         // 500
	tokOp             // = != < > :
	tokPunct          // ( ) , and anything else
)

type token struct {
	kind tokKind
	text string
	pos  int
}

// lexFilter splits a filter into tokens, ending with three EOF tokens so
// the parser can look ahead.
func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j], i})
			i = j
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j], i})
			i = j
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("filter %q: unterminated string at offset %d", s, i)
			}
			toks = append(toks, token{tokString, b.String(), i})
			i = j + 1
		case c == '!' && i+1 < len(s) && s[i+1] == '=':
			toks = append(toks, token{tokOp, "!=", i})
			i += 2
		case c == '=' || c == '<' || c == '>' || c == ':':
			j := i + 1
			if j < len(s) && s[j] == '=' {
				j++
			}
			toks = append(toks, token{tokOp, s[i:j], i})
			i = j
		default:
			toks = append(toks, token{tokPunct, string(c), i})
			i++
		}
	}
	for range 3 {
		toks = append(toks, token{tokEOF, "end of filter", len(s)})
	}
	return toks, nil
}
