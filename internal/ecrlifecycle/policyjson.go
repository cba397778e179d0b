package ecrlifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// policyJSON is a lifecycle policy's text as ECR takes it
// (lifecyclePolicyText).
type policyJSON struct {
	Rules []struct {
		RulePriority int    `json:"rulePriority"`
		Description  string `json:"description"`
		Selection    struct {
			TagStatus      string   `json:"tagStatus"`
			TagPrefixList  []string `json:"tagPrefixList"`
			TagPatternList []string `json:"tagPatternList"`
			CountType      string   `json:"countType"`
			CountUnit      string   `json:"countUnit"`
			CountNumber    int      `json:"countNumber"`
		} `json:"selection"`
		Action struct {
			Type string `json:"type"`
		} `json:"action"`
	} `json:"rules"`
}

// ParsePolicy reads a lifecycle policy's JSON text and validates it: an
// unknown field, an action other than expire, or a rule ECR would refuse
// is an error that says which rule.
func ParsePolicy(text string) (Policy, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	var pj policyJSON
	if err := dec.Decode(&pj); err != nil {
		return Policy{}, fmt.Errorf("lifecycle policy: %w", err)
	}
	if len(pj.Rules) == 0 {
		return Policy{}, fmt.Errorf("lifecycle policy: no rules")
	}
	var p Policy
	for i, r := range pj.Rules {
		if r.Action.Type != "expire" {
			return Policy{}, fmt.Errorf("lifecycle policy: rules[%d]: action type %q: the one action modelled is expire", i, r.Action.Type)
		}
		if r.Selection.CountType == CountSinceImagePushed && r.Selection.CountUnit != "days" {
			return Policy{}, fmt.Errorf("lifecycle policy: rules[%d]: sinceImagePushed needs countUnit days", i)
		}
		p.Rules = append(p.Rules, Rule{
			Priority: r.RulePriority, Description: r.Description,
			TagStatus: r.Selection.TagStatus, TagPrefixList: r.Selection.TagPrefixList, TagPatternList: r.Selection.TagPatternList,
			CountType: r.Selection.CountType, CountNumber: r.Selection.CountNumber,
		})
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}
