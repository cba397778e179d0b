package cw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// The two wire forms share one decoding and one encoding path: a CBOR
// request body is turned into the JSON document awsJson1.0 would have
// carried (timestamps as epoch seconds) and decoded like one; a response is
// built as a tree of the types below and encoded into either form.
//
// A response tree holds map[string]any, []any, string, float64, bool,
// time.Time, []time.Time and []float64.

// cborToJSON converts a CBOR request body to the equivalent JSON document.
func cborToJSON(body []byte) ([]byte, error) {
	if len(body) == 0 {
		return []byte("{}"), nil
	}
	v, err := cbor.Decode(body)
	if err != nil {
		return nil, err
	}
	tree, err := fromCBOR(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(tree)
}

// fromCBOR converts a decoded CBOR value to a value encoding/json marshals
// as awsJson would carry it: an epoch timestamp (tag 1) becomes its number
// of seconds.
func fromCBOR(v cbor.Value) (any, error) {
	switch v := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(v))
		for k, e := range v {
			c, err := fromCBOR(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = c
		}
		return m, nil
	case cbor.List:
		l := make([]any, len(v))
		for i, e := range v {
			c, err := fromCBOR(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			l[i] = c
		}
		return l, nil
	case *cbor.Tag:
		if v.ID != 1 {
			return nil, fmt.Errorf("CBOR tag %d is not supported", v.ID)
		}
		return fromCBOR(v.Value)
	case cbor.Float32, cbor.Float64:
		f, _ := cbor.AsFloat64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v is not finite", f)
		}
		return f, nil
	}
	return fromCBORScalar(v)
}

func fromCBORScalar(v cbor.Value) (any, error) {
	switch v := v.(type) {
	case cbor.Uint:
		return uint64(v), nil
	case cbor.NegInt:
		n, err := cbor.AsInt64(v)
		return n, err
	case cbor.String:
		return string(v), nil
	case cbor.Slice:
		return []byte(v), nil
	case cbor.Bool:
		return bool(v), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	}
	return nil, fmt.Errorf("CBOR value of type %T is not supported", v)
}

// toCBOR encodes a response tree.
func toCBOR(v any) cbor.Value {
	switch v := v.(type) {
	case map[string]any:
		m := make(cbor.Map, len(v))
		for k, e := range v {
			m[k] = toCBOR(e)
		}
		return m
	case []any:
		l := make(cbor.List, len(v))
		for i, e := range v {
			l[i] = toCBOR(e)
		}
		return l
	case []time.Time:
		l := make(cbor.List, len(v))
		for i, t := range v {
			l[i] = toCBOR(t)
		}
		return l
	case []float64:
		l := make(cbor.List, len(v))
		for i, f := range v {
			l[i] = cbor.Float64(f)
		}
		return l
	case time.Time:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(epochSeconds(v))}
	case string:
		return cbor.String(v)
	case float64:
		return cbor.Float64(v)
	case int:
		if v < 0 {
			return cbor.NegInt(uint64(-v))
		}
		return cbor.Uint(uint64(v))
	case bool:
		return cbor.Bool(v)
	}
	return &cbor.Nil{}
}

// toJSON encodes a response tree as awsJson1.0 does: timestamps as epoch
// seconds.
func toJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(jsonTree(v)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func jsonTree(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = jsonTree(e)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = jsonTree(e)
		}
		return l
	case []time.Time:
		l := make([]any, len(v))
		for i, t := range v {
			l[i] = jsonTree(t)
		}
		return l
	case time.Time:
		return json.Number(strconv.FormatFloat(epochSeconds(v), 'f', -1, 64))
	}
	return v
}

// epochSeconds returns t in seconds since the Unix epoch, to the
// millisecond, as the AWS protocols carry timestamps.
func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1e3 }

// epochTime is a request timestamp: epoch seconds (a JSON number, or a
// string of one) or an RFC 3339 string.
type epochTime struct{ time.Time }

func (t *epochTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if uq, err := strconv.Unquote(s); err == nil {
		if p, err := time.Parse(time.RFC3339Nano, uq); err == nil {
			t.Time = p
			return nil
		}
		s = uq
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("timestamp %s is neither epoch seconds nor RFC 3339", b)
	}
	t.Time = time.UnixMilli(int64(math.Round(f * 1e3))).UTC()
	return nil
}
