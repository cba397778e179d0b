package cloudrun

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNextSuffixIsShortAndNumbered(t *testing.T) {
	for _, tc := range []struct {
		latest     string
		generation int64
		wantNumber string
	}{
		{"api-00001-abc", 1, "00002-"},
		{"api-00041-xyz", 3, "00042-"},
		{"api-canary", 6, "00007-"}, // a named revision: the generation counts
		{"", 0, "00001-"},
	} {
		got := nextSuffix("api", tc.latest, tc.generation, "20261203-115726-orders-canary-steps-4fdc-1796299080556106948")
		if !strings.HasPrefix(got, tc.wantNumber) || len(got) != len("00002-abc") {
			t.Errorf("nextSuffix(%q, %d) = %q, want %sxyz", tc.latest, tc.generation, got, tc.wantNumber)
		}
	}
	if a, b := nextSuffix("api", "api-00001-abc", 1, "d1"), nextSuffix("api", "api-00001-abc", 1, "d2"); a == b {
		t.Errorf("two deploy ids gave one name %q", a)
	}
}

func TestFailure(t *testing.T) {
	for _, tc := range []struct {
		err              error
		revision, reason string
	}{
		{status.Error(codes.FailedPrecondition, "Revision 'api-00002-xyz' is not ready and cannot serve traffic. Image 'gcr.io/x:broken' not found."),
			"api-00002-xyz", "Image 'gcr.io/x:broken' not found"},
		{status.Error(codes.FailedPrecondition, "Revision 'api-00002-xyz' is not ready and cannot serve traffic."),
			"api-00002-xyz", "Revision 'api-00002-xyz' is not ready and cannot serve traffic"},
		{status.Error(codes.Internal, "The user-provided container failed to start."), "", "The user-provided container failed to start"},
		{errors.New("plain"), "", "plain"},
	} {
		rev, reason := failure(tc.err)
		if rev != tc.revision || reason != tc.reason {
			t.Errorf("failure(%v) = %q, %q, want %q, %q", tc.err, rev, reason, tc.revision, tc.reason)
		}
	}
}

func rt(latest bool, rev string, percent int32, tag string) *runpb.TrafficTarget {
	t := &runpb.TrafficTarget{Type: typeRevision, Revision: rev, Percent: percent, Tag: tag}
	if latest {
		t.Type = typeLatest
	}
	return t
}

func TestPinnedTraffic(t *testing.T) {
	const full = "projects/p/locations/l/services/api/revisions/"
	for _, tc := range []struct {
		name    string
		traffic []*runpb.TrafficTarget
		ready   string
		tag     string
		want    []*runpb.TrafficTarget
		wantErr string
	}{
		{name: "empty is LATEST", ready: full + "api-1",
			want: []*runpb.TrafficTarget{rt(false, "api-1", 100, "")}},
		{name: "LATEST pinned, tag kept", traffic: []*runpb.TrafficTarget{rt(true, "", 100, "live")}, ready: full + "api-1",
			want: []*runpb.TrafficTarget{rt(false, "api-1", 100, "live")}},
		{name: "merged with its own entry", ready: "api-2",
			traffic: []*runpb.TrafficTarget{rt(false, full+"api-2", 60, ""), rt(true, "", 40, "")},
			want:    []*runpb.TrafficTarget{rt(false, "api-2", 100, "")}},
		{name: "tag moves", ready: "api-2", tag: "canary",
			traffic: []*runpb.TrafficTarget{rt(false, "api-1", 90, "canary"), rt(true, "", 10, ""), rt(false, "api-0", 0, "canary")},
			want:    []*runpb.TrafficTarget{rt(false, "api-1", 90, ""), rt(false, "api-2", 10, "")}},
		{name: "nothing ready", traffic: []*runpb.TrafficTarget{rt(true, "", 100, "")}, wantErr: "no ready revision"},
	} {
		svc := &runpb.Service{Traffic: tc.traffic, LatestReadyRevision: tc.ready}
		got, err := pinnedTraffic(svc, tc.tag)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%s: %v, %v, want %v", tc.name, got, err, tc.want)
			continue
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.Type != w.Type || g.Revision != w.Revision || g.Percent != w.Percent || g.Tag != w.Tag {
				t.Errorf("%s: target %d = %v, want %v", tc.name, i, g, w)
			}
		}
	}
}

func TestServiceOfAndBack(t *testing.T) {
	svc := &runpb.Service{
		Name: "projects/p/locations/l/services/api", Urls: []string{"https://api.example"},
		LatestReadyRevision: "projects/p/locations/l/services/api/revisions/api-1",
		Traffic:             []*runpb.TrafficTarget{rt(true, "", 70, ""), rt(false, "projects/p/locations/l/services/api/revisions/api-1", 30, "old")},
	}
	s := serviceOf(svc)
	if s.URL != "https://api.example" || s.LatestReadyRevision != "api-1" || s.LatestCreatedRevision != "" {
		t.Errorf("serviceOf: %+v", s)
	}
	back := trafficProto(s.Traffic)
	want := []*runpb.TrafficTarget{rt(true, "", 70, ""), rt(false, "api-1", 30, "old")}
	if len(back) != 2 || !reflect.DeepEqual([]string{back[0].String(), back[1].String()}, []string{want[0].String(), want[1].String()}) {
		t.Errorf("trafficProto(serviceOf) = %v, want %v", back, want)
	}
	if got := formatSplit(s.Traffic); got != "LATEST=70%, api-1=30% (tag old)" {
		t.Errorf("formatSplit = %q", got)
	}
}
