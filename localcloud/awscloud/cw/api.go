package cw

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The CloudWatch service's names on the wire.
const (
	// TargetPrefix prefixes the awsJson1.0 X-Amz-Target header.
	TargetPrefix = "GraniteServiceVersion20100801."
	// PathPrefix is the path of Smithy RPC v2 CBOR requests, before the
	// operation name.
	PathPrefix = "/service/GraniteServiceVersion20100801/operation/"

	shapeNamespace = "com.amazonaws.cloudwatch#"
	contentCBOR    = "application/cbor"
	contentJSON    = "application/x-amz-json-1.0"
	maxBody        = 1 << 20
)

// Error codes the API answers with, and the awsQuery codes CloudWatch
// reports beside them (X-Amzn-Query-Error), which the SDKs prefer as
// ErrorCode in query-compatible mode.
const (
	ErrInvalidParameterValue = "InvalidParameterValueException"
	ErrMissingParameter      = "MissingRequiredParameterException"
	ErrInvalidNextToken      = "InvalidNextToken"
	ErrUnknownOperation      = "UnknownOperationException"
	ErrSerialization         = "SerializationException"
)

var queryErrors = map[string]string{
	ErrInvalidParameterValue: "InvalidParameterValue;Sender",
	ErrMissingParameter:      "MissingParameter;Sender",
	ErrInvalidNextToken:      "InvalidNextToken;Sender",
	errInternal:              "InternalServiceError;Receiver",
}

const errInternal = "InternalServiceFault"

// apiError is an error answered with an AWS error shape (HTTP 400).
type apiError struct{ code, message string }

func (e *apiError) Error() string { return e.code + ": " + e.message }

func invalidValue(format string, args ...any) error {
	return &apiError{code: ErrInvalidParameterValue, message: fmt.Sprintf(format, args...)}
}

func missing(format string, args ...any) error {
	return &apiError{code: ErrMissingParameter, message: fmt.Sprintf(format, args...)}
}

// operation runs one API operation on a request body in awsJson form and
// returns the response tree.
type operation func(s *Store, body []byte) (map[string]any, error)

var operations = map[string]operation{
	"GetMetricData": getMetricData,
	"ListMetrics":   listMetrics,
}

// Handler serves GetMetricData (and ListMetrics) over Smithy RPC v2 CBOR
// (POST /service/GraniteServiceVersion20100801/operation/<Op>) and
// awsJson1.0 (X-Amz-Target: GraniteServiceVersion20100801.<Op>). Unknown
// ops / bad input: AWS error shapes.
//
// A request with an X-Amz-Target header is awsJson1.0; any other request is
// RPC v2 CBOR, its operation the last path element after "/operation/"
// wherever the path puts it, so a router may forward either form under any
// prefix. Signatures are not checked. The handler is safe for concurrent
// use.
func Handler(s *Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := protocolOf(r)
		op, ok := operations[p.operation]
		if !ok || r.Method != http.MethodPost {
			p.writeError(w, &apiError{code: ErrUnknownOperation,
				message: fmt.Sprintf("%s %s is not an operation of the local cloud's CloudWatch", r.Method, p.describe())})
			return
		}
		body, err := p.readBody(r)
		if err != nil {
			p.writeError(w, err)
			return
		}
		out, err := op(s, body)
		if err != nil {
			p.writeError(w, err)
			return
		}
		p.write(w, http.StatusOK, out)
	})
}

// protocol is the wire form of one request.
type protocol struct {
	cbor      bool
	operation string
	target    string // awsJson: the X-Amz-Target header
	path      string
}

func protocolOf(r *http.Request) protocol {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		op, _ := strings.CutPrefix(target, TargetPrefix)
		if op == target {
			op = ""
		}
		return protocol{operation: op, target: target}
	}
	p := protocol{cbor: true, path: r.URL.Path}
	if i := strings.LastIndex(r.URL.Path, "/operation/"); i >= 0 {
		p.operation = r.URL.Path[i+len("/operation/"):]
	}
	return p
}

func (p protocol) describe() string {
	if p.cbor {
		return p.path
	}
	return "X-Amz-Target " + p.target
}

// readBody reads the request body as an awsJson document.
func (p protocol) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &apiError{code: ErrSerialization, message: "read the request body: " + err.Error()}
	}
	if len(body) > maxBody {
		return nil, &apiError{code: ErrSerialization, message: "the request body is larger than 1 MiB"}
	}
	if !p.cbor {
		if len(bytes.TrimSpace(body)) == 0 {
			return []byte("{}"), nil
		}
		return body, nil
	}
	doc, err := cborToJSON(body)
	if err != nil {
		return nil, &apiError{code: ErrSerialization, message: "decode the CBOR request body: " + err.Error()}
	}
	return doc, nil
}

// write answers with status and a response tree.
func (p protocol) write(w http.ResponseWriter, status int, tree map[string]any) {
	h := w.Header()
	h.Set("X-Amzn-Requestid", requestID())
	var body []byte
	if p.cbor {
		h.Set("Smithy-Protocol", "rpc-v2-cbor")
		h.Set("Content-Type", contentCBOR)
		body = cbor.Encode(toCBOR(tree))
	} else {
		h.Set("Content-Type", contentJSON)
		var err error
		if body, err = toJSON(tree); err != nil {
			status = http.StatusInternalServerError
			body = []byte(`{"__type":"InternalServiceFault","message":"encode the response"}`)
		}
	}
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers with err's AWS error shape; an error that is not an
// *apiError is an InternalServiceFault (500).
func (p protocol) writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	status := http.StatusBadRequest
	if !errors.As(err, &ae) {
		ae = &apiError{code: errInternal, message: err.Error()}
		status = http.StatusInternalServerError
	}
	typ := ae.code
	if p.cbor {
		typ = shapeNamespace + ae.code
	}
	if q, ok := queryErrors[ae.code]; ok {
		w.Header().Set("X-Amzn-Query-Error", q)
	}
	p.write(w, status, map[string]any{"__type": typ, "message": ae.message})
}

// decodeInput decodes an awsJson request document into v; unknown fields
// are ignored, as AWS does.
func decodeInput(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{code: ErrSerialization, message: "decode the request: " + err.Error()}
	}
	return nil
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
