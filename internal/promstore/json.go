package promstore

import (
	"fmt"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// encoder writes Prometheus' API JSON byte for byte as Prometheus does: the
// same jsoniter configuration and the same number formatting (timestamps as
// seconds with millisecond decimals, values as strings, 'e' notation below
// 1e-6 and from 1e21). Prometheus gets there by registering encoders on
// jsoniter's global registry; this writes the stream directly instead, so
// importing the package changes nothing elsewhere.
type encoder struct {
	s *jsoniter.Stream
}

var jsonAPI = jsoniter.ConfigCompatibleWithStandardLibrary

func newEncoder() *encoder { return &encoder{s: jsonAPI.BorrowStream(nil)} }

func (e *encoder) release() { jsonAPI.ReturnStream(e.s) }

// bytes returns the encoded document; it is valid until release.
func (e *encoder) bytes() ([]byte, error) {
	if e.s.Error != nil {
		return nil, e.s.Error
	}
	return e.s.Buffer(), nil
}

func (e *encoder) successResponse(data func(*encoder), warnings, infos []string) {
	s := e.s
	s.WriteObjectStart()
	s.WriteObjectField("status")
	s.WriteString("success")
	if data != nil {
		s.WriteMore()
		s.WriteObjectField("data")
		data(e)
	}
	if len(warnings) > 0 {
		s.WriteMore()
		s.WriteObjectField("warnings")
		e.strings(warnings)
	}
	if len(infos) > 0 {
		s.WriteMore()
		s.WriteObjectField("infos")
		e.strings(infos)
	}
	s.WriteObjectEnd()
}

func (e *encoder) errorResponse(typ, msg string) {
	s := e.s
	s.WriteObjectStart()
	s.WriteObjectField("status")
	s.WriteString("error")
	s.WriteMore()
	s.WriteObjectField("errorType")
	s.WriteString(typ)
	s.WriteMore()
	s.WriteObjectField("error")
	s.WriteString(msg)
	s.WriteObjectEnd()
}

// queryData writes {"resultType":...,"result":...}.
func (e *encoder) queryData(v parser.Value) {
	s := e.s
	s.WriteObjectStart()
	s.WriteObjectField("resultType")
	s.WriteString(string(v.Type()))
	s.WriteMore()
	s.WriteObjectField("result")
	switch v := v.(type) {
	case promql.Vector:
		s.WriteArrayStart()
		for i, smp := range v {
			if i > 0 {
				s.WriteMore()
			}
			e.sample(smp)
		}
		s.WriteArrayEnd()
	case promql.Matrix:
		s.WriteArrayStart()
		for i, series := range v {
			if i > 0 {
				s.WriteMore()
			}
			e.series(series)
		}
		s.WriteArrayEnd()
	case promql.Scalar, promql.String:
		// Prometheus renders these through their own MarshalJSON.
		b, err := v.(interface{ MarshalJSON() ([]byte, error) }).MarshalJSON()
		if err != nil {
			s.Error = err
			return
		}
		s.WriteRaw(string(b))
	default:
		s.Error = fmt.Errorf("promstore: cannot encode query result of type %T", v)
		return
	}
	s.WriteObjectEnd()
}

func (e *encoder) sample(smp promql.Sample) {
	s := e.s
	s.WriteObjectStart()
	s.WriteObjectField("metric")
	e.labels(smp.Metric)
	s.WriteMore()
	if smp.H == nil {
		s.WriteObjectField("value")
	} else {
		s.WriteObjectField("histogram")
	}
	s.WriteArrayStart()
	jsonutil.MarshalTimestamp(smp.T, s)
	s.WriteMore()
	if smp.H == nil {
		jsonutil.MarshalFloat(smp.F, s)
	} else {
		jsonutil.MarshalHistogram(smp.H, s)
	}
	s.WriteArrayEnd()
	s.WriteObjectEnd()
}

func (e *encoder) series(series promql.Series) {
	s := e.s
	s.WriteObjectStart()
	s.WriteObjectField("metric")
	e.labels(series.Metric)
	if len(series.Floats) > 0 {
		s.WriteMore()
		s.WriteObjectField("values")
		s.WriteArrayStart()
		for i, p := range series.Floats {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, s)
			s.WriteMore()
			jsonutil.MarshalFloat(p.F, s)
			s.WriteArrayEnd()
		}
		s.WriteArrayEnd()
	}
	if len(series.Histograms) > 0 {
		s.WriteMore()
		s.WriteObjectField("histograms")
		s.WriteArrayStart()
		for i, p := range series.Histograms {
			if i > 0 {
				s.WriteMore()
			}
			s.WriteArrayStart()
			jsonutil.MarshalTimestamp(p.T, s)
			s.WriteMore()
			jsonutil.MarshalHistogram(p.H, s)
			s.WriteArrayEnd()
		}
		s.WriteArrayEnd()
	}
	s.WriteObjectEnd()
}

// exemplarResults writes the data of /api/v1/query_exemplars.
func (e *encoder) exemplarResults(res []exemplar.QueryResult) {
	s := e.s
	if res == nil {
		s.WriteNil()
		return
	}
	s.WriteArrayStart()
	for i, r := range res {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteObjectStart()
		s.WriteObjectField("seriesLabels")
		e.labels(r.SeriesLabels)
		s.WriteMore()
		s.WriteObjectField("exemplars")
		if r.Exemplars == nil {
			s.WriteNil()
		} else {
			s.WriteArrayStart()
			for j, ex := range r.Exemplars {
				if j > 0 {
					s.WriteMore()
				}
				s.WriteObjectStart()
				s.WriteObjectField("labels")
				e.labels(ex.Labels)
				s.WriteMore()
				s.WriteObjectField("value")
				jsonutil.MarshalFloat(ex.Value, s)
				s.WriteMore()
				s.WriteObjectField("timestamp")
				jsonutil.MarshalTimestamp(ex.Ts, s)
				s.WriteObjectEnd()
			}
			s.WriteArrayEnd()
		}
		s.WriteObjectEnd()
	}
	s.WriteArrayEnd()
}

// labelsList writes the data of /api/v1/series: always an array.
func (e *encoder) labelsList(ls []labels.Labels) {
	s := e.s
	s.WriteArrayStart()
	for i, l := range ls {
		if i > 0 {
			s.WriteMore()
		}
		e.labels(l)
	}
	s.WriteArrayEnd()
}

func (e *encoder) labels(ls labels.Labels) {
	s := e.s
	s.WriteObjectStart()
	first := true
	ls.Range(func(l labels.Label) {
		if !first {
			s.WriteMore()
		}
		first = false
		s.WriteString(l.Name)
		s.WriteRaw(":")
		s.WriteString(l.Value)
	})
	s.WriteObjectEnd()
}

// strings writes a string array, [] when empty.
func (e *encoder) strings(vals []string) {
	s := e.s
	s.WriteArrayStart()
	for i, v := range vals {
		if i > 0 {
			s.WriteMore()
		}
		s.WriteString(v)
	}
	s.WriteArrayEnd()
}
