package ingest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weirdev/weir/sample"
)

// gathered returns every sample reg holds as "name{l1=v1,...}" -> value.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

func header(r *kgo.Record, key string) (string, bool) {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func TestConsumerDeadLetters(t *testing.T) {
	addrs := newCluster(t, spansTopic, metricsTopic, dlqTopic)
	good := traceRecords(t, EncodingProto, []int{1}, 2, 1, true)[0]
	recs := produce(t, newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner())),
		&kgo.Record{Topic: spansTopic, Key: []byte("k1"), Value: []byte{0x0f, 0x01}, Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		&kgo.Record{Topic: spansTopic, Key: []byte("k2")},
		&kgo.Record{Topic: spansTopic, Key: good.key, Value: good.value},
		&kgo.Record{Topic: metricsTopic, Partition: 2, Value: []byte("garbage that is not protobuf")},
		metricRecords(t, EncodingProto, 1)[0],
	)
	reg := prometheus.NewRegistry()
	c, err := NewConsumer(append(testOpts(addrs), WithRegisterer(reg))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecorder()
	run := start(t, c, h)
	run.waitFor(t, "the good records", func() bool { m, tr := h.counts(); return m == 1 && tr == 1 })
	run.waitFor(t, "lag of the spans partition", func() bool {
		v, ok := gathered(t, reg)["weir_ingest_lag{partition=0,topic=otlp_spans}"]
		return ok && v == 0
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	if h.traces[0].src.Offset != recs[2].Offset || h.metrics[0].src.Offset != recs[4].Offset {
		t.Errorf("handled offsets %d and %d, want the good records %d and %d", h.traces[0].src.Offset, h.metrics[0].src.Offset, recs[2].Offset, recs[4].Offset)
	}

	dead := readAll(t, addrs, dlqTopic, 3)
	wantErr := map[string]string{"k1": "otlp_proto traces", "k2": "empty record value", "": "otlp_proto metrics"}
	for _, d := range dead {
		var src *kgo.Record
		for _, r := range []*kgo.Record{recs[0], recs[1], recs[3]} {
			if string(r.Key) == string(d.Key) {
				src = r
			}
		}
		if src == nil || string(d.Value) != string(src.Value) {
			t.Fatalf("dead letter key %q value %q matches no bad record", d.Key, d.Value)
		}
		e, _ := header(d, HeaderError)
		if !strings.Contains(e, wantErr[string(d.Key)]) {
			t.Errorf("dead letter %q: %s = %q, want it to mention %q", d.Key, HeaderError, e, wantErr[string(d.Key)])
		}
		for k, want := range map[string]string{
			HeaderTopic: src.Topic, HeaderPartition: strconv.Itoa(int(src.Partition)), HeaderOffset: strconv.FormatInt(src.Offset, 10),
		} {
			if got, _ := header(d, k); got != want {
				t.Errorf("dead letter %q: header %s = %q, want %q", d.Key, k, got, want)
			}
		}
		if o, ok := header(d, "origin"); string(d.Key) == "k1" && (!ok || o != "test") {
			t.Errorf("dead letter k1 lost its own header")
		}
	}

	got := gathered(t, reg)
	for k, want := range map[string]float64{
		"weir_ingest_records_total{topic=otlp_spans}":                3,
		"weir_ingest_records_total{topic=otlp_metrics}":              2,
		"weir_ingest_bytes_total{topic=otlp_spans}":                  float64(2 + len(good.value)),
		"weir_ingest_decode_errors_total{topic=otlp_spans}":          2,
		"weir_ingest_decode_errors_total{topic=otlp_metrics}":        1,
		"weir_ingest_dead_letters_total{topic=otlp_spans}":           2,
		"weir_ingest_dead_letters_total{topic=otlp_metrics}":         1,
		"weir_ingest_dead_letter_failures_total{topic=otlp_spans}":   0,
		"weir_ingest_dead_letter_failures_total{topic=otlp_metrics}": 0,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "weir_ingest_lag{") {
			t.Errorf("%s still exported after the partitions were lost", k)
		}
	}
	checkCommitted(t, addrs, "weir", recs)
}

// A dead-letter topic that does not exist costs a counted failure, not the
// partition: later records are still handled and committed.
func TestConsumerDeadLetterFailureIsNotFatal(t *testing.T) {
	addrs := newCluster(t, spansTopic)
	good := traceRecords(t, EncodingProto, []int{1}, 1, 1, true)[0]
	recs := produce(t, newClient(t, addrs),
		&kgo.Record{Topic: spansTopic, Partition: 0, Value: []byte{0x0f}},
		&kgo.Record{Topic: spansTopic, Partition: 0, Value: good.value},
	)
	reg := prometheus.NewRegistry()
	c, err := NewConsumer(append(testOpts(addrs), MetricsTopic(""), DeadLetterTopic("missing.dlq"),
		StopTimeout(300*time.Millisecond), WithRegisterer(reg))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecorder()
	run := start(t, c, h)
	run.waitFor(t, "the good record", func() bool { _, tr := h.counts(); return tr == 1 })
	run.waitFor(t, "the dead-letter failure", func() bool {
		return gathered(t, reg)["weir_ingest_dead_letter_failures_total{topic=otlp_spans}"] == 1
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	checkCommitted(t, addrs, "weir", recs)
}

func TestConsumerTenant(t *testing.T) {
	addrs := newCluster(t, metricsTopic)
	mk := func(tenantHeader *string, attr string) *kgo.Record {
		md := metricBatch(1)
		if attr != "" {
			md.ResourceMetrics().At(0).Resource().Attributes().PutStr("tenant.id", attr)
		}
		r := metricRecords(t, EncodingProto, 1)[0]
		r.Value = mustMarshalMetrics(t, md)
		if tenantHeader != nil {
			r.Headers = []kgo.RecordHeader{{Key: "X-Scope-OrgID", Value: []byte(*tenantHeader)}}
		}
		return r
	}
	acme, empty := "acme", ""
	recs := produce(t, newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner())),
		mk(&acme, "evil"), mk(nil, "globex"), mk(nil, ""), mk(&empty, "initech"))

	for _, tc := range []struct {
		name       string
		dflt       string
		wantSource []string
		wantPoints []string
	}{
		{"header, then attribute, then fallback", "", []string{"acme", "", "", ""}, []string{"acme", "globex", "anon", "initech"}},
		{"default tenant", "dflt", []string{"acme", "dflt", "dflt", "dflt"}, []string{"acme", "dflt", "dflt", "dflt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConsumer(append(testOpts(addrs), SpansTopic(""), TenantHeader("x-scope-orgid"), DefaultTenant(tc.dflt), Group(tc.name))...)
			if err != nil {
				t.Fatal(err)
			}
			h := newRecorder()
			run := start(t, c, h)
			run.waitFor(t, "all records", func() bool { m, _ := h.counts(); return m == len(recs) })
			if err := run.stop(t); err != nil {
				t.Fatal(err)
			}
			conv := NewMetricConverter(TenantAttribute("tenant.id"), FallbackTenant("anon"))
			for i, m := range h.metrics {
				if m.src.Offset != int64(i) {
					t.Fatalf("record %d handled at position %d", m.src.Offset, i)
				}
				var ps []sample.Point
				conv.Convert(m.md, m.src.Tenant, collect(&ps))
				got := fmt.Sprintf("%q/%q", m.src.Tenant, ps[0].Tenant)
				if want := fmt.Sprintf("%q/%q", tc.wantSource[i], tc.wantPoints[i]); got != want {
					t.Errorf("record %d: source/point tenant %s, want %s", i, got, want)
				}
			}
		})
	}
}

func TestConsumerPollDoneErrorStopsWithoutCommit(t *testing.T) {
	addrs := newCluster(t, spansTopic)
	good := traceRecords(t, EncodingProto, []int{1}, 1, 1, true)[0]
	recs := produce(t, newClient(t, addrs), &kgo.Record{Topic: spansTopic, Value: good.value})

	c, err := NewConsumer(append(testOpts(addrs), MetricsTopic(""))...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecorder()
	h.pollErr = fmt.Errorf("sink down")
	err = c.Run(context.Background(), h)
	if err == nil || !strings.Contains(err.Error(), "sink down") || !strings.Contains(err.Error(), "PollDone") {
		t.Fatalf("Run = %v, want the PollDone error", err)
	}
	if _, tr := h.counts(); tr != 1 || len(h.lost[spansTopic]) == 0 {
		t.Errorf("handled %d traces, lost %v; want 1 and the partitions", tr, h.lost)
	}

	// Nothing was committed: the group reads the record again.
	h2 := newRecorder()
	run := start(t, c, h2)
	run.waitFor(t, "the record again", func() bool { _, tr := h2.counts(); return tr == 1 })
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	if h2.traces[0].src.Offset != recs[0].Offset {
		t.Errorf("second run read offset %d, want %d", h2.traces[0].src.Offset, recs[0].Offset)
	}
}

// The commit on cancel is complete: a new member of the group resumes after
// the last handled record.
func TestConsumerResumesAfterStop(t *testing.T) {
	addrs := newCluster(t, spansTopic)
	prod := newClient(t, addrs)
	value := traceRecords(t, EncodingProto, []int{1}, 1, 1, true)[0].value
	batch := func(n int) []*kgo.Record {
		var out []*kgo.Record
		for i := 0; i < n; i++ {
			out = append(out, &kgo.Record{Topic: spansTopic, Key: []byte(strconv.Itoa(i)), Value: value})
		}
		return produce(t, prod, out...)
	}
	first := batch(20)
	opts := append(testOpts(addrs), MetricsTopic(""))
	c, err := NewConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	h := newRecorder()
	run := start(t, c, h)
	run.waitFor(t, "the first batch", func() bool { _, tr := h.counts(); return tr == len(first) })
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	second := batch(7)
	c2, err := NewConsumer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	h2 := newRecorder()
	run = start(t, c2, h2)
	run.waitFor(t, "the second batch", func() bool { _, tr := h2.counts(); return tr >= len(second) })
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, tr := h2.counts(); tr != len(second) {
		t.Errorf("second member handled %d records, want only the %d new ones", tr, len(second))
	}
}

// rawRecorder is a RawTracesHandler and a RawMetricsHandler that refuses
// what pdata refuses, as the pipeline's fast decoders do.
type rawRecorder struct {
	*recorder
	raw []Source
}

func (r *rawRecorder) HandleRawTraces(src Source) error {
	_, err := DecodeTraces(EncodingProto, src.Value)
	return r.took(src, err)
}

func (r *rawRecorder) HandleRawMetrics(src Source) error {
	_, err := DecodeMetrics(EncodingProto, src.Value)
	return r.took(src, err)
}

func (r *rawRecorder) took(src Source, err error) error {
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.raw = append(r.raw, src)
	r.handledSinceDone++
	return nil
}

func (r *rawRecorder) rawCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.raw)
}

// Raw handlers get otlp_proto span and metrics records undecoded; those
// they refuse are dead-lettered like records pdata refuses.
func TestConsumerRawRecords(t *testing.T) {
	for _, topic := range []string{spansTopic, metricsTopic} {
		t.Run(topic, func(t *testing.T) {
			addrs := newCluster(t, spansTopic, metricsTopic, dlqTopic)
			good := &kgo.Record{Topic: topic}
			if topic == spansTopic {
				r := traceRecords(t, EncodingProto, []int{1}, 2, 1, true)[0]
				good.Key, good.Value = r.key, r.value
			} else {
				good.Value = metricRecords(t, EncodingProto, 1)[0].Value
			}
			recs := produce(t, newClient(t, addrs, kgo.RecordPartitioner(kgo.ManualPartitioner())),
				&kgo.Record{Topic: topic, Key: []byte("bad"), Value: []byte{0x0f, 0x01}}, good)
			c, err := NewConsumer(testOpts(addrs)...)
			if err != nil {
				t.Fatal(err)
			}
			h := &rawRecorder{recorder: newRecorder()}
			run := start(t, c, h)
			run.waitFor(t, "the good record", func() bool { return h.rawCount() == 1 })
			dead := readAll(t, addrs, dlqTopic, 1)
			if err := run.stop(t); err != nil {
				t.Fatal(err)
			}
			if m, tr := h.counts(); m+tr != 0 {
				t.Errorf("HandleMetrics and HandleTraces got %d and %d decoded records; raw handlers get them raw", m, tr)
			}
			if got := h.raw[0]; got.Offset != recs[1].Offset || string(got.Value) != string(good.Value) {
				t.Errorf("raw record at offset %d (%d bytes), want offset %d (%d bytes)", got.Offset, len(got.Value), recs[1].Offset, len(good.Value))
			}
			if string(dead[0].Key) != "bad" {
				t.Errorf("dead letter %q, want the bad record", dead[0].Key)
			}
			checkCommitted(t, addrs, "weir", recs)
		})
	}
}
