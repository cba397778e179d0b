package load

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
	"github.com/cutover-dev/cutover/scenarios"
)

func TestURLRedactor(t *testing.T) {
	for _, n := range []int{1, maxLinearURLs + 1} {
		var targets []vegeta.Target
		for i := range n {
			targets = append(targets, vegeta.Target{URL: "http://u:pw@h/" + strings.Repeat("x", i) + "?token=t&page=2"})
		}
		u := newURLRedactor(targets)
		for _, tg := range targets {
			got := u.url(tg.URL)
			if strings.Contains(got, "pw") || strings.Contains(got, "token=t") || !strings.Contains(got, "page=2") {
				t.Errorf("%d targets: url(%q) = %q", n, tg.URL, got)
			}
		}
		// A URL no target has is redacted too, and remembered.
		other := "http://h/?api_key=k"
		if got := u.url(other); got != "http://h/?api_key="+results.Redacted {
			t.Errorf("url(%q) = %q", other, got)
		}
		if _, ok := u.other[other]; !ok {
			t.Error("an unknown URL was not cached")
		}
		// Errors quote URLs; each distinct one is redacted once.
		e := `Get "http://h/?token=t": dial tcp: connection refused`
		want := `Get "http://h/?token=` + results.Redacted + `": dial tcp: connection refused`
		if got := u.text(e); got != want {
			t.Errorf("text(%q) = %q", e, got)
		}
		if got, ok := u.errs[e]; !ok || got != want {
			t.Error("the error was not cached")
		}
		if got := u.text("503 Service Unavailable"); got != "503 Service Unavailable" || len(u.errs) != 1 {
			t.Errorf("an error without a URL: %q, %d cached", got, len(u.errs))
		}
	}
}

// Redacting a target's URL costs a comparison, and allocates nothing.
func TestURLRedactorAllocatesNothing(t *testing.T) {
	targets := []vegeta.Target{{URL: "http://h/a?token=x"}, {URL: "http://h/b?page=1"}}
	u := newURLRedactor(targets)
	if n := testing.AllocsPerRun(100, func() { u.url(targets[0].URL); u.url(targets[1].URL) }); n != 0 {
		t.Errorf("url allocates %v times per call", n)
	}
}

// results.bin holds no secret from a request URL, its error, or a tag
// header, and still decodes with vegeta's decoder.
func TestResultsHoldNoSecrets(t *testing.T) {
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "PLANTEDPASS" {
			http.Error(w, "no basic auth from the URL's user info", http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Cutover-Auth-Token", "PLANTEDTAG")
		w.Header().Set("X-Cutover-Shard", "shard-7")
		w.Write([]byte("ok"))
	}))
	// A port nothing listens on: transport errors quote the URL.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String() + "/?token=PLANTEDERR"
	ln.Close()

	withUser := strings.Replace(srv.URL, "http://", "http://u:PLANTEDPASS@", 1)
	l := closed(2)
	l.Timeout = scenarios.Duration(2 * time.Second)
	l.Requests = []scenarios.Request{
		{Method: "GET", Path: "/items?api_key=PLANTEDKEY&page=2", Weight: 1},
		{Method: "GET", URL: closedURL, Weight: 1},
	}
	var buf bytes.Buffer
	sum, err := run(context.Background(), Options{Load: l, BaseURL: withUser, Results: BufferedSink(&buf)}, runConfig{limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("PLANTED")) {
		t.Errorf("results.bin holds a planted secret:\n%q", buf.Bytes())
	}
	rs := decodeAll(t, bytes.NewReader(buf.Bytes()))
	if int64(len(rs)) != sum.Totals.Requests || len(rs) != 40 {
		t.Fatalf("decoded %d results, counted %d, want 40", len(rs), sum.Totals.Requests)
	}
	var ok, refused int
	for _, r := range rs {
		switch {
		case r.Code == http.StatusOK:
			ok++
			want := strings.Replace(srv.URL, "http://", "http://u:"+results.Redacted+"@", 1) + "/items?api_key=" + results.Redacted + "&page=2"
			if r.URL != want {
				t.Errorf("ok result URL = %q, want %q", r.URL, want)
			}
			if r.Headers.Get("X-Cutover-Auth-Token") != results.Redacted || r.Headers.Get("X-Cutover-Shard") != "shard-7" {
				t.Errorf("tag headers = %v", r.Headers)
			}
		case r.Code == 0:
			refused++
			if !strings.Contains(r.URL, "token="+results.Redacted) || !strings.Contains(r.Error, "token="+results.Redacted) {
				t.Errorf("failed result: URL %q, error %q", r.URL, r.Error)
			}
		default:
			t.Errorf("result %d: %d %s", r.Seq, r.Code, r.Body)
		}
	}
	if ok == 0 || refused == 0 {
		t.Errorf("%d ok and %d refused results, want both", ok, refused)
	}
}

// A setup error names the bad URL without its secrets.
func TestSetupErrorsHoldNoSecrets(t *testing.T) {
	l := closed(1)
	l.Requests = []scenarios.Request{{URL: "http://u:PLANTEDPASS@h/%zz?token=PLANTEDTOK"}}
	_, err := Run(context.Background(), Options{Load: l, BaseURL: "http://127.0.0.1:1"})
	if err == nil || strings.Contains(err.Error(), "PLANTED") || !strings.Contains(err.Error(), "invalid URL escape") {
		t.Errorf("err = %v, want an invalid URL error without the secrets", err)
	}
}

// BenchmarkRedactResult is what redaction adds to a result's encoding: a
// target URL (with or without a secret), and a transport error quoting it.
func BenchmarkRedactResult(b *testing.B) {
	for _, tc := range []struct{ name, url, err string }{
		{"plain", "http://127.0.0.1:8080/", ""},
		{"secret", "http://127.0.0.1:8080/items?api_key=K1&page=2", ""},
		{"status error", "http://127.0.0.1:8080/", "503 Service Unavailable"},
		{"transport error", "http://127.0.0.1:8080/items?api_key=K1&page=2",
			`Get "http://127.0.0.1:8080/items?api_key=K1&page=2": dial tcp 127.0.0.1:8080: connect: connection refused`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			targets := []vegeta.Target{{URL: tc.url}}
			c := consumer{urls: newURLRedactor(targets)}
			var r vegeta.Result
			b.ReportAllocs()
			for b.Loop() {
				r.URL, r.Error = targets[0].URL, tc.err
				c.redactResult(&r)
			}
		})
	}
}
