package load

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cutover-dev/cutover/results"
)

func TestClassNamesMatchResults(t *testing.T) {
	if len(results.Classes) != int(numClasses) {
		t.Fatalf("results has %d classes, load has %d", len(results.Classes), numClasses)
	}
	for i, c := range results.Classes {
		if classNames[i] != c {
			t.Errorf("class %d is %q here, %q in results", i, classNames[i], c)
		}
		if class(i).isTransport() != results.IsTransport(c) {
			t.Errorf("class %q: transport %v here, %v in results", c, class(i).isTransport(), results.IsTransport(c))
		}
	}
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		code uint16
		body string
		want results.Class
		up   bool
	}{
		{200, "", results.ClassOK, false},
		{204, "", results.ClassOK, false},
		{301, "", results.ClassOK, false},
		{399, "", results.ClassOK, false},
		{100, "", results.ClassStatusOther, false},
		{400, "", results.ClassStatusOther, false},
		{404, "", results.ClassStatusOther, false},
		{429, "", results.ClassStatus429, false},
		{500, "", results.ClassStatus500, false},
		{501, "", results.ClassStatusOther, false},
		{502, "", results.ClassStatus502, false},
		{503, "", results.ClassStatus503, false},
		{504, "", results.ClassStatus504, false},
		{504, `{"code":504,"message":"upstream request timeout"}`, results.ClassStatus504, true},
		{504, "upstream request timeout", results.ClassStatus504, true},
		{503, "upstream request timeout", results.ClassStatus503, false},
		{599, "", results.ClassStatusOther, false},
	}
	for _, tt := range tests {
		r := &vegeta.Result{Code: tt.code, Body: []byte(tt.body)}
		if got := Classify(r); got != tt.want {
			t.Errorf("Classify(%d %q) = %s, want %s", tt.code, tt.body, got, tt.want)
		}
		if got := IsUpstreamTimeout(r); got != tt.up {
			t.Errorf("IsUpstreamTimeout(%d %q) = %v, want %v", tt.code, tt.body, got, tt.up)
		}
	}
}

// TestClassifyErrorMessages pins the classifier on the messages Go's
// net/http produces (each seen in the real-loopback tests below or in
// production logs), including URLs that contain misleading words.
func TestClassifyErrorMessages(t *testing.T) {
	tests := []struct {
		msg  string
		want results.Class
	}{
		{`Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`, results.ClassConnectRefused},
		{`Get "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: i/o timeout`, results.ClassConnectTimeout},
		{`Get "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: i/o timeout (Client.Timeout exceeded while awaiting headers)`, results.ClassConnectTimeout},
		{`Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: connect: connection timed out`, results.ClassConnectTimeout},
		{`Get "http://127.0.0.1:9/": read tcp 127.0.0.1:5->127.0.0.1:9: read: connection reset by peer`, results.ClassConnReset},
		{`Post "http://127.0.0.1:9/": write tcp 127.0.0.1:5->127.0.0.1:9: write: broken pipe`, results.ClassConnReset},
		{`Get "http://127.0.0.1:9/": EOF`, results.ClassEOF},
		{`unexpected EOF`, results.ClassEOF},
		{`Get "http://127.0.0.1:9/": http: server closed idle connection`, results.ClassEOF},
		{`Get "http://127.0.0.1:9/": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, results.ClassResponseTimeout},
		{`context deadline exceeded (Client.Timeout or context cancellation while reading body)`, results.ClassResponseTimeout},
		{`Get "http://127.0.0.1:9/": net/http: timeout awaiting response headers`, results.ClassResponseTimeout},
		{`Get "https://127.0.0.1:9/": tls: failed to verify certificate: x509: certificate signed by unknown authority`, results.ClassTLS},
		{`Get "https://127.0.0.1:9/": http: server gave HTTP response to HTTPS client`, results.ClassTLS},
		{`Get "https://127.0.0.1:9/": net/http: TLS handshake timeout`, results.ClassTLS},
		{`Get "https://127.0.0.1:9/": remote error: tls: handshake failure`, results.ClassTLS},
		{`Get "http://x.invalid/": dial tcp: lookup x.invalid: no such host`, results.ClassDNS},
		{`Get "http://x.example/": dial tcp: lookup x.example on 127.0.0.53:53: read udp 127.0.0.1:5->127.0.0.53:53: i/o timeout`, results.ClassDNS},
		{`Get "http://127.0.0.1:9/": stopped after 10 redirects`, results.ClassTransportOther},
		{`Get "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: connect: cannot assign requested address`, results.ClassTransportOther},
		{`Get "http://127.0.0.1:9/": dial tcp 127.0.0.1:9: socket: too many open files`, results.ClassTransportOther},
		// Words in the URL must not decide the class.
		{`Get "http://127.0.0.1:9/EOF/tls: /lookup /timeout": dial tcp 127.0.0.1:9: connect: connection refused`, results.ClassConnectRefused},
		{`Get "http://127.0.0.1:9/connection refused": stopped after 10 redirects`, results.ClassTransportOther},
		{``, results.ClassTransportOther},
	}
	for _, tt := range tests {
		if got := Classify(&vegeta.Result{Error: tt.msg}); got != tt.want {
			t.Errorf("Classify(%q) = %s, want %s", tt.msg, got, tt.want)
		}
	}
}

func TestStarvation(t *testing.T) {
	for msg, starved := range map[string]bool{
		`dial tcp 127.0.0.1:9: connect: cannot assign requested address`: true,
		`dial tcp 127.0.0.1:9: socket: too many open files`:              true,
		`dial tcp 127.0.0.1:9: connect: connection refused`:              false,
	} {
		if got := starvation(msg) != ""; got != starved {
			t.Errorf("starvation(%q) = %v, want %v", msg, got, starved)
		}
	}
}

// TestStatusClassesOverLoopback sends one request per path; the server
// answers with the status the path names.
func TestStatusClassesOverLoopback(t *testing.T) {
	t.Parallel()
	srv, _ := server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/upstream":
			w.WriteHeader(504)
			io.WriteString(w, `{"code":504,"message":"upstream request timeout"}`)
		case "/redirect":
			http.Redirect(w, r, "/200", http.StatusFound)
		default:
			var code int
			fmt.Sscanf(r.URL.Path, "/%d", &code)
			w.WriteHeader(code)
			io.WriteString(w, "status body")
		}
	}))
	paths := []string{"/200", "/redirect", "/404", "/429", "/500", "/502", "/503", "/504", "/upstream", "/418"}
	l := closed(2)
	for _, p := range paths {
		l.Requests = append(l.Requests, scenariosRequest("GET", p, 1))
	}
	const rounds = 3
	sum, res := attack(t, l, srv.URL, uint64(rounds*len(paths)))
	want := map[results.Class]int64{
		results.ClassOK:          2 * rounds,
		results.ClassStatusOther: 2 * rounds,
		results.ClassStatus429:   rounds,
		results.ClassStatus500:   rounds,
		results.ClassStatus502:   rounds,
		results.ClassStatus503:   rounds,
		results.ClassStatus504:   2 * rounds,
		results.UpstreamTimeout:  rounds,
		results.FetchFailed:      0,
	}
	for k, v := range want {
		if got := sum.Totals.ByClass[k]; got != v {
			t.Errorf("%s = %d, want %d", k, got, v)
		}
	}
	if sum.Totals.Errors != int64(rounds*(len(paths)-2)) {
		t.Errorf("errors = %d, want %d", sum.Totals.Errors, rounds*(len(paths)-2))
	}
	// ok bodies are dropped from the stream, error bodies kept for diagnosis.
	for _, r := range res {
		if len(r.Body) > 0 && r.Code < 400 {
			t.Errorf("ok result %s kept its body %q", r.URL, r.Body)
		}
		if r.Code >= 400 && len(r.Body) == 0 {
			t.Errorf("error result %s lost its body", r.URL)
		}
	}
}

// transportCase is one real loopback mechanism that makes requests fail
// in a known way.
type transportCase struct {
	name  string
	class results.Class
	// setup returns the base URL and options; it registers its cleanups.
	setup func(t *testing.T) (string, func(*Options))
}

func TestTransportClassesOverLoopback(t *testing.T) {
	cases := []transportCase{
		{"closed port", results.ClassConnectRefused, closedPort},
		{"accept then reset", results.ClassConnReset, resetServer},
		{"accept then hang", results.ClassResponseTimeout, hangServer},
		{"full accept queue drops SYNs", results.ClassConnectTimeout, fullBacklog},
		{"untrusted certificate", results.ClassTLS, untrustedTLS},
		{"https to a plain HTTP server", results.ClassTLS, plainAsTLS},
		{"hijack and close", results.ClassEOF, hijackClose},
		{"name under .invalid", results.ClassDNS, invalidName},
		{"redirect loop", results.ClassTransportOther, redirectLoop},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, mod := tc.setup(t)
			l := closed(2)
			l.Timeout = scenariosDuration(700 * time.Millisecond)
			l.Sessions.Count = 3
			const n = 4
			sum, res := attack(t, l, url, n, mod)
			if got := sum.Totals.ByClass[tc.class]; got != n {
				msgs := map[string]int{}
				for _, r := range res {
					msgs[r.Error]++
				}
				t.Fatalf("%s = %d of %d; by class %v; errors %v", tc.class, got, n, sum.Totals.ByClass, msgs)
			}
			if got := sum.Totals.ByClass[results.FetchFailed]; tc.class != results.ClassOK && got != n {
				t.Errorf("fetch_failed = %d, want %d", got, n)
			}
			t.Logf("sample error: %s", res[0].Error)
			for _, r := range res {
				if got := Classify(&r); got != tc.class {
					t.Errorf("stored result classifies as %s, want %s: %s", got, tc.class, r.Error)
				}
				if got, want := r.Headers.Get(SessionHeader), strconv.Itoa(SessionOf(r.Seq, 3)); got != want {
					t.Errorf("result %d records session %q, want %s", r.Seq, got, want)
				}
			}
		})
	}
}

func closedPort(t *testing.T) (string, func(*Options)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/", nil
}

// rawServer accepts connections on loopback and hands each to handle.
func rawServer(t *testing.T, handle func(*net.TCPConn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return "http://" + ln.Addr().String() + "/"
}

// readRequest reads until the end of the request head.
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

func resetServer(t *testing.T) (string, func(*Options)) {
	return rawServer(t, func(c *net.TCPConn) {
		readRequest(c)
		c.SetLinger(0) // close sends RST instead of FIN
		c.Close()
	}), nil
}

func hangServer(t *testing.T) (string, func(*Options)) {
	return rawServer(t, func(c *net.TCPConn) {
		defer c.Close()
		readRequest(c)
		// Hold the connection, without answering, until the client gives up.
		io.Copy(io.Discard, c)
	}), nil
}

// fullBacklog is a listener created with backlog 0 that never accepts:
// once one connection fills its accept queue, Linux drops further SYNs, so
// connects hang until the dialer's timeout, as behind an exhausted NAT.
func fullBacklog(t *testing.T) (string, func(*Options)) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue: connect until a connect times out.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("fill accept queue: %v", err)
			}
			break
		}
		t.Cleanup(func() { c.Close() })
		if i == 16 {
			t.Skip("the kernel keeps accepting into a backlog-0 queue; cannot provoke a connect timeout here")
		}
	}
	return "http://" + addr + "/", nil
}

func untrustedTLS(t *testing.T) (string, func(*Options)) {
	srv := httptest.NewUnstartedServer(okHandler)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rejected handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, nil
}

func plainAsTLS(t *testing.T) (string, func(*Options)) {
	srv := httptest.NewServer(okHandler)
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "http://", "https://", 1), nil
}

func hijackClose(t *testing.T) (string, func(*Options)) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		c.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, nil
}

func redirectLoop(t *testing.T) (string, func(*Options)) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, nil
}

// invalidName resolves a name under the reserved .invalid TLD through a DNS
// server on 127.0.0.1 that answers NXDOMAIN to everything, so no query
// leaves the machine.
func invalidName(t *testing.T) (string, func(*Options)) {
	dnsAddr, queries := nxdomainServer(t)
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", dnsAddr)
		},
	}
	t.Cleanup(func() {
		if queries.Load() == 0 {
			t.Error("the local DNS server got no query: the resolver went elsewhere")
		}
	})
	return "http://cutover-test.invalid/", func(o *Options) { o.Resolver = resolver }
}

// nxdomainServer answers every DNS query on a loopback UDP port with
// NXDOMAIN and counts the queries.
func nxdomainServer(t *testing.T) (string, *atomic.Int64) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var queries atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := nxdomain(buf[:n]); resp != nil {
				queries.Add(1)
				pc.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return pc.LocalAddr().String(), &queries
}

// nxdomain builds the NXDOMAIN answer to a query: its header with QR, RA and
// RCODE 3 set, and its first question.
func nxdomain(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) == 0 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	end := i + 1 + 4 // root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	resp := append([]byte(nil), q[:end]...)
	resp[2] = 0x80 | q[2]&0x01 // QR, keep RD
	resp[3] = 0x80 | 3         // RA, NXDOMAIN
	binary.BigEndian.PutUint16(resp[4:6], 1)
	clear(resp[6:12]) // no answers, authorities or additionals
	return resp
}

func TestMarks(t *testing.T) {
	tests := []struct {
		code uint16
		body string
		want mark
	}{
		{504, `{"code":504,"message":"upstream request timeout"}`, markUpstreamTimeout},
		{502, `TypeError: fetch failed`, markAppFetchFailed},
		{500, `Upstream returned 504. body={"code":504,"message":"upstream request timeout"}`, markNone},
		{504, `gateway timeout`, markNone},
		{502, `bad gateway`, markNone},
	}
	for _, tt := range tests {
		r := &vegeta.Result{Code: tt.code, Body: []byte(tt.body)}
		if got := markOf(r, classify(r)); got != tt.want {
			t.Errorf("%d %q: mark %d, want %d", tt.code, tt.body, got, tt.want)
		}
	}
}
