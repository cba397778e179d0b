package alb

import (
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// APIVersion is the ELBv2 API version the awsQuery requests name.
const APIVersion = "2015-12-01"

// apiNamespace is the XML namespace of ELBv2 responses.
const apiNamespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// API serves ELBv2 over awsQuery (form body Action=…&Version=2015-12-01,
// XML answers): DescribeLoadBalancers, DescribeTargetGroups and
// DescribeTargetHealth over the balancers lbs returns at each request.
// Errors are awsQuery's: HTTP 400 with an ErrorResponse (LoadBalancerNotFound,
// TargetGroupNotFound, ValidationError, InvalidAction, MissingAction,
// MissingParameter). Pagination parameters are accepted and ignored: every
// answer is one page.
func API(lbs func() []*LoadBalancer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requestID := newRequestID()
		if err := r.ParseForm(); err != nil {
			writeAPIError(w, requestID, apiError{"MalformedQueryString", err.Error()})
			return
		}
		q := query(r.Form)
		action, version := q.get("Action"), q.get("Version")
		op := operations[action]
		switch {
		case action == "":
			writeAPIError(w, requestID, apiError{"MissingAction", "The request must contain the parameter Action"})
			return
		case version == "":
			writeAPIError(w, requestID, apiError{"MissingParameter", "The request must contain the parameter Version"})
			return
		case op == nil || version != APIVersion:
			writeAPIError(w, requestID, apiError{"InvalidAction",
				fmt.Sprintf("Could not find operation %s for version %s", action, version)})
			return
		}
		result, err := op(q, lbs())
		if err != nil {
			writeAPIError(w, requestID, *err)
			return
		}
		writeAPIResult(w, requestID, action, result)
	})
}

// operation answers one action with its result element, or an error.
type operation func(q query, lbs []*LoadBalancer) (any, *apiError)

var operations = map[string]operation{
	"DescribeLoadBalancers": describeLoadBalancers,
	"DescribeTargetGroups":  describeTargetGroups,
	"DescribeTargetHealth":  describeTargetHealth,
}

// apiError is an awsQuery error (Type Sender).
type apiError struct{ Code, Message string }

// query is a request's awsQuery parameters.
type query map[string][]string

func (q query) get(key string) string {
	if vs := q[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (q query) has(key string) bool { _, ok := q[key]; return ok }

// members returns the list prefix.member.1, prefix.member.2, … (with
// suffix, e.g. ".Id", after the index), up to the first missing index.
func (q query) members(prefix, suffix string) []string {
	var out []string
	for i := 1; ; i++ {
		key := prefix + ".member." + strconv.Itoa(i) + suffix
		if !q.has(key) {
			return out
		}
		out = append(out, q.get(key))
	}
}

func describeLoadBalancers(q query, lbs []*LoadBalancer) (any, *apiError) {
	arns, names := q.members("LoadBalancerArns", ""), q.members("Names", "")
	if len(arns) > 0 && len(names) > 0 {
		return nil, &apiError{"ValidationError", "Load balancer names and load balancer ARNs cannot be specified at the same time"}
	}
	var out []*LoadBalancer
	switch {
	case len(arns) > 0:
		for _, arn := range arns {
			if !strings.HasPrefix(arn, "arn:") {
				return nil, &apiError{"ValidationError", fmt.Sprintf("'%s' is not a valid load balancer ARN", arn)}
			}
			lb := findLB(lbs, func(lb *LoadBalancer) bool { return lb.ARN() == arn })
			if lb == nil {
				return nil, &apiError{"LoadBalancerNotFound", "One or more load balancers not found"}
			}
			out = append(out, lb)
		}
	case len(names) > 0:
		for _, name := range names {
			lb := findLB(lbs, func(lb *LoadBalancer) bool { return lb.cfg.Name == name })
			if lb == nil {
				return nil, &apiError{"LoadBalancerNotFound", fmt.Sprintf("Load balancers '[%s]' not found", name)}
			}
			out = append(out, lb)
		}
	default:
		out = lbs
	}
	res := &describeLoadBalancersResult{}
	for _, lb := range out {
		res.LoadBalancers = append(res.LoadBalancers, lb.describe())
	}
	return res, nil
}

func describeTargetGroups(q query, lbs []*LoadBalancer) (any, *apiError) {
	arns, names := q.members("TargetGroupArns", ""), q.members("Names", "")
	lbARN := q.get("LoadBalancerArn")
	given := 0
	for _, b := range []bool{len(arns) > 0, len(names) > 0, lbARN != ""} {
		if b {
			given++
		}
	}
	if given > 1 {
		return nil, &apiError{"ValidationError", "Only one of TargetGroupArns, LoadBalancerArn, or Names can be specified"}
	}
	var out []*LoadBalancer
	switch {
	case len(arns) > 0:
		for _, arn := range arns {
			lb, err := findTargetGroup(lbs, arn)
			if err != nil {
				return nil, err
			}
			out = append(out, lb)
		}
	case len(names) > 0:
		for _, name := range names {
			lb := findLB(lbs, func(lb *LoadBalancer) bool { return lb.cfg.Name == name })
			if lb == nil {
				return nil, &apiError{"TargetGroupNotFound", "One or more target groups not found"}
			}
			out = append(out, lb)
		}
	case lbARN != "":
		lb := findLB(lbs, func(lb *LoadBalancer) bool { return lb.ARN() == lbARN })
		if lb == nil {
			return nil, &apiError{"LoadBalancerNotFound", "One or more load balancers not found"}
		}
		out = append(out, lb)
	default:
		out = lbs
	}
	res := &describeTargetGroupsResult{}
	for _, lb := range out {
		res.TargetGroups = append(res.TargetGroups, lb.describeTargetGroup())
	}
	return res, nil
}

func describeTargetHealth(q query, lbs []*LoadBalancer) (any, *apiError) {
	arn := q.get("TargetGroupArn")
	if arn == "" {
		return nil, &apiError{"ValidationError", "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null"}
	}
	lb, err := findTargetGroup(lbs, arn)
	if err != nil {
		return nil, err
	}
	return &describeTargetHealthResult{TargetHealthDescriptions: lb.describeHealth(q.members("Targets", ".Id"))}, nil
}

func findLB(lbs []*LoadBalancer, match func(*LoadBalancer) bool) *LoadBalancer {
	if i := slices.IndexFunc(lbs, match); i >= 0 {
		return lbs[i]
	}
	return nil
}

func findTargetGroup(lbs []*LoadBalancer, arn string) (*LoadBalancer, *apiError) {
	if !strings.HasPrefix(arn, "arn:") {
		return nil, &apiError{"ValidationError", fmt.Sprintf("'%s' is not a valid target group ARN", arn)}
	}
	if lb := findLB(lbs, func(lb *LoadBalancer) bool { return lb.TargetGroupARN() == arn }); lb != nil {
		return lb, nil
	}
	return nil, &apiError{"TargetGroupNotFound", "One or more target groups not found"}
}

// newRequestID returns a request id in AWS's UUID form.
func newRequestID() string {
	a, b := rand.Uint64(), rand.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, a>>16&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// writeAPIResult writes <ActionResponse><ActionResult>…</ActionResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>.
func writeAPIResult(w http.ResponseWriter, requestID, action string, result any) {
	writeXML(w, http.StatusOK, requestID, struct {
		XMLName   xml.Name
		Xmlns     string `xml:"xmlns,attr"`
		Result    any
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: apiNamespace, Result: result, RequestID: requestID})
}

func writeAPIError(w http.ResponseWriter, requestID string, e apiError) {
	type errorBody struct {
		Type    string
		Code    string
		Message string
	}
	writeXML(w, http.StatusBadRequest, requestID, struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Xmlns     string   `xml:"xmlns,attr"`
		Error     errorBody
		RequestID string `xml:"RequestId"`
	}{Xmlns: apiNamespace, Error: errorBody{"Sender", e.Code, e.Message}, RequestID: requestID})
}

func writeXML(w http.ResponseWriter, status int, requestID string, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body)
}
