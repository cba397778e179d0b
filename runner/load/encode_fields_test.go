package load

import (
	"bytes"
	"net/http"
	"reflect"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The hand-written encoder (appendResult) writes vegeta.Result field by
// field. These tests walk vegeta.Result by reflection, so that they fail,
// naming the field, when a vegeta upgrade adds a field the encoder does not
// write (or changes one's type or order).

// gobFields lists the fields of vegeta.Result that gob sends, in gob's
// numbering: exported fields in declaration order (gob skips unexported
// ones, and so may appendResult).
func gobFields() []reflect.StructField {
	var fs []reflect.StructField
	for f := range reflect.TypeFor[vegeta.Result]().Fields() {
		if f.IsExported() {
			fs = append(fs, f)
		}
	}
	return fs
}

// nonZero returns a non-zero value of type typ, or false when it does not
// know how to make one (then the test must be taught the new type).
func nonZero(typ reflect.Type) (reflect.Value, bool) {
	v := reflect.New(typ).Elem()
	switch {
	case typ == reflect.TypeFor[time.Time]():
		// Not UTC, with nanoseconds: the zone offset travels too.
		v.Set(reflect.ValueOf(time.Date(2025, 3, 4, 5, 6, 7, 890123456, time.FixedZone("", 5*3600+30*60))))
	case typ == reflect.TypeFor[http.Header]():
		v.Set(reflect.ValueOf(http.Header{"X-Cutover-Session": {"s-3", "", "again"}}))
	default:
		switch typ.Kind() {
		case reflect.String:
			v.SetString("value ☃")
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(-1 << (typ.Bits() - 2))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			v.SetUint(1<<typ.Bits() - 3)
		case reflect.Float32, reflect.Float64:
			v.SetFloat(-2.5)
		case reflect.Slice:
			if typ.Elem().Kind() != reflect.Uint8 {
				return v, false
			}
			v.SetBytes([]byte{0, 0xff, 'b', 'o', 'd', 'y'})
		default:
			return v, false
		}
	}
	return v, true
}

// withField returns a Result whose only non-zero field is f.
func withField(t *testing.T, f reflect.StructField) vegeta.Result {
	t.Helper()
	val, ok := nonZero(f.Type)
	if !ok {
		t.Fatalf("vegeta.Result.%s has type %s, which this test cannot fill and appendResult does not encode: teach both",
			f.Name, f.Type)
	}
	var r vegeta.Result
	reflect.ValueOf(&r).Elem().FieldByIndex(f.Index).Set(val)
	return r
}

// fieldsDiffer names the gob-sent fields in which got and want differ
// (time.Time by Equal, everything else by DeepEqual).
func fieldsDiffer(got, want vegeta.Result) []string {
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	var differ []string
	for _, f := range gobFields() {
		a, b := g.FieldByIndex(f.Index), w.FieldByIndex(f.Index)
		same := reflect.DeepEqual(a.Interface(), b.Interface())
		if ta, ok := a.Interface().(time.Time); ok {
			same = ta.Equal(b.Interface().(time.Time))
		}
		if !same {
			differ = append(differ, f.Name)
		}
	}
	return differ
}

// Every field of vegeta.Result on its own: the hand-written result (the
// second in a stream; the first goes through encoding/gob) is byte for
// byte what gob writes, and vegeta's decoder reads the field back. A field
// vegeta adds and appendResult does not write fails here by name.
func TestResultEncoderWritesEveryFieldOfVegetaResult(t *testing.T) {
	first := vegeta.Result{Seq: 1, Code: 200, Method: "GET", URL: "http://127.0.0.1:1/"}
	for i, f := range gobFields() {
		t.Run(f.Name, func(t *testing.T) {
			r := withField(t, f)
			ours, gobs := encodeAll(t, []vegeta.Result{first, r})
			if !bytes.Equal(ours, gobs) {
				t.Errorf("vegeta.Result.%s (gob field %d, %s): appendResult does not write it as gob does\n ours %x\n gob  %x",
					f.Name, i, f.Type, ours, gobs)
			}
			got := decodeAll(t, bytes.NewReader(ours))
			if len(got) != 2 {
				t.Fatalf("decoded %d results, want 2", len(got))
			}
			if d := fieldsDiffer(got[1], r); len(d) > 0 {
				t.Errorf("vegeta.Result.%s: decoded %+v, want %+v; fields differing: %v", f.Name, got[1], r, d)
			}
		})
	}
}

// A Result with every field set survives the hand-written encoder and
// vegeta's own decoder, every field compared by reflection (not by
// vegeta's Result.Equal, which a new field may not be in).
func TestResultEncoderRoundTripsAFullyPopulatedResult(t *testing.T) {
	var full vegeta.Result
	rv := reflect.ValueOf(&full).Elem()
	for _, f := range gobFields() {
		rv.FieldByIndex(f.Index).Set(reflect.ValueOf(withField(t, f)).FieldByIndex(f.Index))
	}
	for _, f := range gobFields() {
		if rv.FieldByIndex(f.Index).IsZero() {
			t.Fatalf("vegeta.Result.%s is still zero in the populated result", f.Name)
		}
	}
	// Twice: the first goes through encoding/gob, the second by hand.
	ours, _ := encodeAll(t, []vegeta.Result{full, full})
	got := decodeAll(t, bytes.NewReader(ours))
	if len(got) != 2 {
		t.Fatalf("decoded %d results, want 2", len(got))
	}
	for i, g := range got {
		if d := fieldsDiffer(g, full); len(d) > 0 {
			t.Errorf("result %d: fields %v did not survive the round trip:\n got %+v\nwant %+v", i, d, g, full)
		}
	}
}
