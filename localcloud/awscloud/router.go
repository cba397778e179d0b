package awscloud

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/localcloud/awscloud/alb"
	"github.com/cutover-dev/cutover/localcloud/awscloud/cw"
)

// X-Amz-Target prefixes of the APIs on the endpoint.
const (
	targetECS   = "AmazonEC2ContainerServiceV20141113."
	targetECR   = "AmazonEC2ContainerRegistry_V20150921."
	targetCW    = "GraniteServiceVersion20100801."
	targetLocal = "CutoverLocalCloud."
	pathCW      = "/service/GraniteServiceVersion20100801/"
)

// serve starts the endpoint on 127.0.0.1:0.
func (c *Cloud) serve() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c.ln = ln
	c.srv = &http.Server{Handler: c.router(), ReadHeaderTimeout: 30 * time.Second}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		_ = c.srv.Serve(ln)
	}()
	return nil
}

// router sends a request to its API: by X-Amz-Target for the awsJson
// APIs, by path for CloudWatch's CBOR protocol, by the form's Version for
// ELBv2 (awsQuery). Anything else is an UnknownOperationException (an
// InvalidAction for a form body).
func (c *Cloud) router() http.Handler {
	ecs, ecr, local := c.ecsOps(), c.ecrOps(), c.localOps()
	cwAPI := cw.Handler(c.store)
	elb := alb.API(c.balancers)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, targetECS):
			serveJSON(w, r, strings.TrimPrefix(target, targetECS), ecs)
		case strings.HasPrefix(target, targetECR):
			serveJSON(w, r, strings.TrimPrefix(target, targetECR), ecr)
		case strings.HasPrefix(target, targetLocal):
			serveJSON(w, r, strings.TrimPrefix(target, targetLocal), local)
		case strings.HasPrefix(target, targetCW), strings.HasPrefix(r.URL.Path, pathCW):
			cwAPI.ServeHTTP(w, r)
		case target != "":
			writeError(w, errorf("UnknownOperationException", "Unknown operation %s", target))
		default:
			c.routeForm(w, r, elb)
		}
	})
}

// routeForm sends an awsQuery form with Version=2015-12-01 to ELBv2.
func (c *Cloud) routeForm(w http.ResponseWriter, r *http.Request, elb http.Handler) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, errorf("SerializationException", "read request body: %v", err))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err == nil && form.Get("Version") == "2015-12-01" {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		elb.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>`+
			`<Message>The action or operation requested is invalid.</Message></Error><RequestId>00000000-0000-4000-8000-000000000000</RequestId></ErrorResponse>`)
		return
	}
	writeError(w, errorf("UnknownOperationException", "Unknown operation"))
}
