package awscloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// contentTypeJSON11 is the Content-Type of awsJson1_1 requests and
// responses.
const contentTypeJSON11 = "application/x-amz-json-1.1"

// maxBody bounds a request body the APIs read.
const maxBody = 4 << 20

// apiError is an awsJson error: HTTP 400 (unless Status says otherwise)
// with {"__type": Type, "message": Message}.
type apiError struct {
	Status  int
	Type    string
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// errorf returns a 400 apiError of type typ.
func errorf(typ, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// epoch is a timestamp as awsJson writes one: seconds since the Unix epoch,
// with a fraction. The zero time is omitted (omitzero).
type epoch time.Time

// MarshalJSON writes the time as epoch seconds, millisecond precision.
func (e epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(e).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// IsZero reports whether the time is unset, for omitzero.
func (e epoch) IsZero() bool { return time.Time(e).IsZero() }

// jsonOp is one awsJson operation: it decodes its own input from body.
type jsonOp func(body []byte) (any, error)

// requestIDs numbers x-amzn-RequestId values.
var requestIDs atomic.Uint64

// serveJSON runs the operation named by target's part after the prefix and
// writes its output or error as awsJson1_1 does.
func serveJSON(w http.ResponseWriter, r *http.Request, op string, ops map[string]jsonOp) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, errorf("SerializationException", "read request body: %v", err))
		return
	}
	fn, ok := ops[op]
	if !ok {
		writeError(w, errorf("UnknownOperationException", "Unknown operation %s", op))
		return
	}
	out, err := fn(body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads an operation's input strictly enough to catch a body that
// is not a JSON object; unknown fields are ignored, as AWS does.
func decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf("SerializationException", "cannot deserialize the request body: %v", err)
	}
	return nil
}

// writeError writes err as an awsJson error; an error that is not an
// apiError is a 500 InternalFailure.
func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Type: "ServerException", Message: err.Error()}
	}
	w.Header().Set("x-amzn-ErrorType", ae.Type)
	writeJSON(w, ae.Status, map[string]string{"__type": ae.Type, "message": ae.Message})
}

// writeJSON writes v with the awsJson1_1 headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"ServerException","message":"encode response"}`)
	}
	w.Header().Set("Content-Type", contentTypeJSON11)
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("00000000-0000-4000-8000-%012d", requestIDs.Add(1)))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
