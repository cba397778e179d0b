package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// encodeAll encodes rs with resultEncoder and, separately, with vegeta's own
// encoder, and returns both streams.
func encodeAll(t *testing.T, rs []vegeta.Result) (ours, gobs []byte) {
	t.Helper()
	var a, b bytes.Buffer
	wa := bufio.NewWriter(&a)
	enc := newResultEncoder(wa)
	venc := vegeta.NewEncoder(&b)
	for i := range rs {
		if err := enc.encode(&rs[i]); err != nil {
			t.Fatalf("encode result %d: %v", i, err)
		}
		if err := venc.Encode(&rs[i]); err != nil {
			t.Fatalf("vegeta encode result %d: %v", i, err)
		}
	}
	if err := wa.Flush(); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

// TestResultEncoder holds the hand-written encoding to gob's: the bytes are
// the same as vegeta.NewEncoder's whenever gob's own are deterministic (at
// most one header: gob walks a map in random order), and vegeta's decoder
// reads back every field of every result.
func TestResultEncoder(t *testing.T) {
	ts := time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.UTC)
	local := time.Date(2025, 3, 4, 5, 6, 7, 1, time.FixedZone("odd", 5*3600+30*60+15))
	first := vegeta.Result{Seq: 0, Code: 200, Timestamp: ts, Latency: time.Millisecond, Method: "GET", URL: "http://127.0.0.1:1/"}
	cases := []struct {
		name string
		r    vegeta.Result
	}{
		{"zero", vegeta.Result{}},
		{"ok", vegeta.Result{Seq: 1, Code: 200, Timestamp: ts, Latency: 1234 * time.Microsecond, BytesIn: 2, Method: "GET", URL: "http://127.0.0.1:8080/x?y=1",
			Headers: http.Header{"Content-Type": {"text/plain"}}}},
		{"every field", vegeta.Result{Attack: "name", Seq: math.MaxUint64, Code: 504, Timestamp: local, Latency: 30 * time.Second,
			BytesOut: 1 << 40, BytesIn: 1024, Error: "504 Gateway Timeout", Body: []byte("upstream request timeout"), Method: "POST", URL: "https://example.test/",
			Headers: http.Header{"X-Cutover-Session": {"s-3", "", "again"}}}},
		{"transport error", vegeta.Result{Seq: 128, Timestamp: ts, Latency: -5, Error: "dial tcp 127.0.0.1:1: connect: connection refused", Method: "GET", URL: "http://127.0.0.1:1/",
			Headers: http.Header{"X-Cutover-Session": {"s-0"}}}},
		{"empty headers", vegeta.Result{Seq: 300, Code: 204, Timestamp: ts, Headers: http.Header{}}},
		{"empty header values", vegeta.Result{Seq: 301, Code: 200, Timestamp: ts, Headers: http.Header{"": nil}}},
		{"binary body", vegeta.Result{Seq: 1 << 20, Code: 500, Timestamp: ts.Add(time.Hour), Body: []byte{0, 0xff, 0x80, 0x7f}, Latency: math.MaxInt64}},
		{"local time", vegeta.Result{Seq: 2, Code: 200, Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.Local)}},
		{"negative latency", vegeta.Result{Seq: 3, Latency: math.MinInt64}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := []vegeta.Result{first, tc.r, tc.r}
			ours, gobs := encodeAll(t, rs)
			if !bytes.Equal(ours, gobs) {
				t.Errorf("stream differs from gob's\n ours %x\n gob  %x", ours, gobs)
			}
			got := decodeAll(t, bytes.NewReader(ours))
			if len(got) != len(rs) {
				t.Fatalf("decoded %d results, want %d", len(got), len(rs))
			}
			for i := range rs {
				if !got[i].Equal(rs[i]) {
					t.Errorf("result %d decoded as %+v, want %+v", i, got[i], rs[i])
				}
			}
		})
	}
}

// TestResultEncoderRandom decodes many random results, with several
// headers, through vegeta's decoder.
func TestResultEncoderRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, rng.IntN(3)*rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return string(b)
	}
	num := func() uint64 { return rng.Uint64() >> rng.IntN(64) }
	// signed is a number of any size and sign.
	signed := func(shift int) int64 { return int64(num()>>shift) * int64(1-2*rng.IntN(2)) }
	rs := make([]vegeta.Result, 500)
	for i := range rs {
		r := vegeta.Result{
			Attack: str(), Seq: num(), Code: uint16(num()), Latency: time.Duration(signed(0)),
			BytesOut: num(), BytesIn: num(), Error: str(), Method: str(), URL: str(),
		}
		if rng.IntN(4) > 0 {
			// Any whole-minute offset but -1 minute, which time's binary
			// encoding cannot hold (TestResultEncoderTimestampError).
			off := rng.IntN(1000) - 500
			if off == -1 {
				off = 1
			}
			r.Timestamp = time.Unix(signed(2), int64(rng.IntN(1e9))).In(time.FixedZone("z", 60*off))
		}
		if b := str(); b != "" {
			r.Body = []byte(b)
		}
		if rng.IntN(3) > 0 {
			r.Headers = http.Header{}
			for range rng.IntN(5) {
				vs := make([]string, rng.IntN(3))
				for j := range vs {
					vs[j] = str()
				}
				r.Headers[str()] = vs
			}
		}
		rs[i] = r
	}
	ours, _ := encodeAll(t, rs)
	got := decodeAll(t, bytes.NewReader(ours))
	if len(got) != len(rs) {
		t.Fatalf("decoded %d results, want %d", len(got), len(rs))
	}
	for i := range rs {
		if !got[i].Equal(rs[i]) {
			t.Fatalf("result %d decoded as %+v, want %+v", i, got[i], rs[i])
		}
	}
}

// TestResultEncoderWriteError returns the writer's error.
func TestResultEncoderWriteError(t *testing.T) {
	w := bufio.NewWriterSize(&failingWriter{n: 100}, 16)
	enc := newResultEncoder(w)
	r := vegeta.Result{Seq: 1, Code: 200, Timestamp: time.Now(), URL: "http://127.0.0.1:1/"}
	var err error
	for range 10 {
		if err = enc.encode(&r); err != nil {
			break
		}
	}
	if !errors.Is(err, errDiskFull) {
		t.Fatalf("encode error = %v, want %v", err, errDiskFull)
	}
}

// TestResultEncoderTimestampError fails where gob fails: a timestamp in a
// zone one minute west of UTC has no binary encoding.
func TestResultEncoderTimestampError(t *testing.T) {
	first := vegeta.Result{Seq: 1, Timestamp: time.Now()}
	bad := vegeta.Result{Seq: 2, Timestamp: time.Now().In(time.FixedZone("w", -60))}
	enc := newResultEncoder(bufio.NewWriter(io.Discard))
	if err := enc.encode(&first); err != nil {
		t.Fatal(err)
	}
	if err := enc.encode(&bad); err == nil {
		t.Error("encoded a timestamp that time cannot marshal")
	}
	if err := vegeta.NewEncoder(io.Discard).Encode(&bad); err == nil {
		t.Error("gob encoded it: the test's premise is wrong")
	}
}

func TestValueTypeIDRejectsBadStreams(t *testing.T) {
	for name, stream := range map[string][]byte{
		"empty":            nil,
		"truncated":        {0x05, 0x01},
		"type only":        {0x02, 0x81, 0x00},
		"value then more":  {0x02, 0x82, 0x00, 0x01, 0x00},
		"bad length":       {0xf0, 0x00},
		"empty message":    {0x00},
		"oversized length": {0xf7},
	} {
		if id, err := valueTypeID(stream); err == nil {
			t.Errorf("%s: type id %d, want an error", name, id)
		}
	}
}

func TestGobIntegers(t *testing.T) {
	for _, x := range []uint64{0, 1, 0x7f, 0x80, 0xff, 0x100, 1<<32 - 1, 1 << 56, math.MaxUint64} {
		b := appendGobUint(nil, x)
		got, n, ok := readGobUint(b)
		if !ok || got != x || n != len(b) {
			t.Errorf("uint %d: encoded %x, read back %d (%d bytes, ok %v)", x, b, got, n, ok)
		}
	}
	for _, i := range []int64{0, 1, -1, 63, -64, 64, math.MaxInt64, math.MinInt64} {
		u, _, _ := readGobUint(appendGobInt(nil, i))
		if got := decodeGobInt(u); got != i {
			t.Errorf("int %d read back as %d", i, got)
		}
	}
}
