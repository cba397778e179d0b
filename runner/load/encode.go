package load

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// resultEncoder writes results in vegeta's own encoding — the gob stream of
// *vegeta.Result that vegeta.NewEncoder writes and vegeta.NewDecoder (and
// so `vegeta report`) reads — without gob's reflection on the per-result
// path. The first result goes through encoding/gob, which sends the type
// definitions and numbers the type; every later one is appended by hand,
// field by field, exactly as gob writes a value of that type. It is the
// largest part of the per-result cost otherwise: in a `cutover run` process
// gob took 2–3 µs of the 65–70 µs a closed-loop request costs.
//
// A resultEncoder is used by one goroutine.
type resultEncoder struct {
	// w takes each result in one Write, the first one's type definitions
	// included, so that a sink can cut its file between results.
	w io.Writer
	// typeID is gob's id of vegeta.Result in this stream; 0 until the first
	// result is written.
	typeID int64
	msg    []byte // scratch: length prefix room, then the message
}

// gobMaxUint is the most bytes gob's unsigned integer encoding takes.
const gobMaxUint = 9

func newResultEncoder(w io.Writer) *resultEncoder {
	return &resultEncoder{w: w, msg: make([]byte, 0, 512)}
}

// encode writes r as one gob message (after the type definitions, for the
// first result).
func (e *resultEncoder) encode(r *vegeta.Result) error {
	if e.typeID == 0 {
		return e.first(r)
	}
	// Leave room for the length prefix, which gob writes before the message
	// and we know only once the message is built.
	b := append(e.msg[:0], make([]byte, gobMaxUint)...)
	b = appendGobInt(b, e.typeID)
	b, err := appendResult(b, r)
	if err != nil {
		return err
	}
	e.msg = b
	var pre [gobMaxUint]byte
	p := appendGobUint(pre[:0], uint64(len(b)-gobMaxUint))
	start := gobMaxUint - len(p)
	copy(b[start:], p)
	_, err = e.w.Write(b[start:])
	return err
}

// first writes r with encoding/gob, which sends the type definitions ahead
// of the value, and notes the type id gob gave vegeta.Result.
func (e *resultEncoder) first(r *vegeta.Result) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(r); err != nil {
		return err
	}
	id, err := valueTypeID(buf.Bytes())
	if err != nil {
		return fmt.Errorf("read gob type id of vegeta.Result: %w", err)
	}
	if _, err := e.w.Write(buf.Bytes()); err != nil {
		return err
	}
	e.typeID = id
	return nil
}

// valueTypeID returns the type id of the value message in a gob stream of
// type definitions (negative ids) followed by one value (a positive id).
func valueTypeID(stream []byte) (int64, error) {
	for len(stream) > 0 {
		n, k, ok := readGobUint(stream)
		if !ok || n > uint64(len(stream)-k) {
			return 0, errors.New("truncated message")
		}
		msg := stream[k : k+int(n)]
		stream = stream[k+int(n):]
		u, _, ok := readGobUint(msg)
		if !ok {
			return 0, errors.New("message without a type id")
		}
		if id := decodeGobInt(u); id > 0 {
			if len(stream) != 0 {
				return 0, errors.New("messages after the value")
			}
			return id, nil
		}
	}
	return 0, errors.New("no value message")
}

// appendResult appends r as gob encodes a vegeta.Result struct: each
// non-zero field as the delta of its field number and its value, then a
// zero. It must follow the field order of vegeta.Result (TestResultEncoder
// holds it to gob's own bytes) and write every field of it
// (TestResultEncoderWritesEveryFieldOfVegetaResult fails, naming the field,
// when vegeta adds one this does not write).
func appendResult(b []byte, r *vegeta.Result) ([]byte, error) {
	f := fields{b: b, last: -1}
	if r.Attack != "" {
		f.field(0)
		f.b = appendGobString(f.b, r.Attack)
	}
	if r.Seq != 0 {
		f.field(1)
		f.b = appendGobUint(f.b, r.Seq)
	}
	if r.Code != 0 {
		f.field(2)
		f.b = appendGobUint(f.b, uint64(r.Code))
	}
	if r.Timestamp != (time.Time{}) {
		f.field(3)
		// A GobEncoder's bytes, as a byte slice: time.Time.GobEncode is
		// MarshalBinary, whose bytes AppendBinary appends.
		var tb [16]byte
		t, err := r.Timestamp.AppendBinary(tb[:0])
		if err != nil {
			return b, fmt.Errorf("encode result timestamp: %w", err)
		}
		f.b = appendGobBytes(f.b, t)
	}
	if r.Latency != 0 {
		f.field(4)
		f.b = appendGobInt(f.b, int64(r.Latency))
	}
	if r.BytesOut != 0 {
		f.field(5)
		f.b = appendGobUint(f.b, r.BytesOut)
	}
	if r.BytesIn != 0 {
		f.field(6)
		f.b = appendGobUint(f.b, r.BytesIn)
	}
	if r.Error != "" {
		f.field(7)
		f.b = appendGobString(f.b, r.Error)
	}
	if len(r.Body) != 0 {
		f.field(8)
		f.b = appendGobBytes(f.b, r.Body)
	}
	if r.Method != "" {
		f.field(9)
		f.b = appendGobString(f.b, r.Method)
	}
	if r.URL != "" {
		f.field(10)
		f.b = appendGobString(f.b, r.URL)
	}
	if r.Headers != nil {
		// gob sends a non-nil map even when empty, and every key and
		// value inside a map even when empty.
		f.field(11)
		f.b = appendGobUint(f.b, uint64(len(r.Headers)))
		for k, vs := range r.Headers {
			f.b = appendGobString(f.b, k)
			f.b = appendGobUint(f.b, uint64(len(vs)))
			for _, v := range vs {
				f.b = appendGobString(f.b, v)
			}
		}
	}
	return appendGobUint(f.b, 0), nil
}

// fields appends struct fields as gob numbers them: by the delta from the
// last field sent.
type fields struct {
	b    []byte
	last int
}

func (f *fields) field(n int) {
	f.b = appendGobUint(f.b, uint64(n-f.last))
	f.last = n
}

// appendGobUint appends x in gob's unsigned encoding: one byte below 0x80,
// otherwise the negated byte count and the big-endian bytes.
func appendGobUint(b []byte, x uint64) []byte {
	if x <= 0x7f {
		return append(b, byte(x))
	}
	n := 8 - bits.LeadingZeros64(x)>>3
	b = append(b, byte(-n))
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(x>>(8*i)))
	}
	return b
}

// appendGobInt appends i in gob's signed encoding: the sign in the low bit,
// complemented when negative.
func appendGobInt(b []byte, i int64) []byte {
	var x uint64
	if i < 0 {
		x = uint64(^i<<1) | 1
	} else {
		x = uint64(i << 1)
	}
	return appendGobUint(b, x)
}

func appendGobString(b []byte, s string) []byte {
	return append(appendGobUint(b, uint64(len(s))), s...)
}

func appendGobBytes(b, p []byte) []byte {
	return append(appendGobUint(b, uint64(len(p))), p...)
}

// readGobUint reads one gob unsigned integer from the start of b and
// returns it with the bytes it took.
func readGobUint(b []byte) (x uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	if b[0] <= 0x7f {
		return uint64(b[0]), 1, true
	}
	n = -int(int8(b[0]))
	if n > 8 || len(b) < 1+n {
		return 0, 0, false
	}
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	return x, 1 + n, true
}

func decodeGobInt(x uint64) int64 {
	if x&1 != 0 {
		return ^int64(x >> 1)
	}
	return int64(x >> 1)
}
