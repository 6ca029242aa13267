package promstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"
)

// Write appends the samples, native histograms and exemplars of series in one
// TSDB transaction: either all samples are committed or none is.
//
// Writing a sample again with the same (series, timestamp, value) is a no-op,
// so a batch replayed after a crash can be written again. Samples older than
// the newest sample of the store are accepted within the out-of-order window
// (WithOutOfOrderWindow). Exemplars keep all their labels (trace_id,
// span_id); an exemplar the exemplar storage refuses (too far out of order,
// labels too long) is counted in weir_promstore_exemplars_rejected_total and
// does not fail the write, as in Prometheus' remote-write receiver.
//
// Write fails, writing nothing, when ctx is done, when a series has no
// __name__, an invalid or repeated label name, or no sample nor histogram,
// or when the TSDB refuses a sample. The error names the series (its index in
// series and its labels) and the timestamp, and wraps the TSDB's error, so
// errors.Is(err, storage.ErrOutOfOrderSample), storage.ErrTooOldSample,
// storage.ErrOutOfBounds or storage.ErrDuplicateSampleForTimestamp (same
// timestamp, different value) tell a permanently refused batch from a
// transient failure.
func (s *Store) Write(ctx context.Context, series []prompb.TimeSeries) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("promstore: write: %w", err)
	}
	app := s.db.AppenderV2(ctx)
	defer func() {
		if err != nil {
			s.m.writeFailures.Inc()
			_ = app.Rollback()
		}
	}()

	var (
		b         = labels.NewScratchBuilder(8)
		exemplars []exemplar.Exemplar
		samples   int
		rejected  int
		offered   int
	)
	for i := range series {
		ts := &series[i]
		ls := ts.ToLabels(&b, nil)
		if err := validSeries(ts, ls); err != nil {
			return fmt.Errorf("promstore: series %d %s: %w", i, ls, err)
		}

		exemplars = exemplars[:0]
		for _, e := range ts.Exemplars {
			exemplars = append(exemplars, e.ToExemplar(&b, nil))
		}
		// The appender wants exemplars in timestamp order.
		slices.SortFunc(exemplars, exemplar.Compare)

		// Exemplars belong to the series, not to one sample: hand them over
		// with the series' last sample, the one that exists on every path.
		last := len(ts.Samples) + len(ts.Histograms) - 1
		var ref storage.SeriesRef
		for j, smp := range ts.Samples {
			opts := storage.AOptions{}
			if j == last {
				opts.Exemplars = exemplars
			}
			ref, err = app.Append(ref, ls, 0, smp.Timestamp, smp.Value, nil, nil, opts)
			if rejected, err = exemplarErrors(rejected, err); err != nil {
				return fmt.Errorf("promstore: series %d %s at %d: %w", i, ls, smp.Timestamp, err)
			}
		}
		for j, hp := range ts.Histograms {
			var (
				h  *histogram.Histogram
				fh *histogram.FloatHistogram
			)
			if hp.IsFloatHistogram() {
				fh = hp.ToFloatHistogram()
			} else {
				h = hp.ToIntHistogram()
			}
			opts := storage.AOptions{}
			if len(ts.Samples)+j == last {
				opts.Exemplars = exemplars
			}
			ref, err = app.Append(ref, ls, 0, hp.Timestamp, 0, h, fh, opts)
			if rejected, err = exemplarErrors(rejected, err); err != nil {
				return fmt.Errorf("promstore: series %d %s: histogram at %d: %w", i, ls, hp.Timestamp, err)
			}
		}
		samples += last + 1
		offered += len(exemplars)
	}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("promstore: write: %w", err)
	}
	if err := app.Commit(); err != nil {
		// Commit has already rolled back.
		s.m.writeFailures.Inc()
		return fmt.Errorf("promstore: committing %d series: %w", len(series), err)
	}
	s.m.samples.Add(float64(samples))
	s.m.exemplars.Add(float64(offered))
	s.m.exemplarsRejected.Add(float64(rejected))
	return nil
}

// exemplarErrors counts the exemplars an append refused and returns the
// append's error without them: a refused exemplar never fails a write.
func exemplarErrors(rejected int, err error) (int, error) {
	if err == nil {
		return rejected, nil
	}
	if pe, ok := errors.AsType[*storage.AppendPartialError](err); ok {
		return rejected + len(pe.ExemplarErrors), nil
	}
	return rejected, err
}

// validSeries refuses what Prometheus' remote-write receiver refuses, but as
// an error rather than a silently skipped series.
func validSeries(ts *prompb.TimeSeries, ls labels.Labels) error {
	switch {
	case !ls.Has(model.MetricNameLabel):
		return errors.New("has no __name__ label")
	case !ls.IsValid(model.UTF8Validation):
		return errors.New("has an invalid label name or value")
	case len(ts.Samples) == 0 && len(ts.Histograms) == 0:
		return errors.New("has no sample and no histogram")
	}
	if name, dup := ls.HasDuplicateLabelNames(); dup {
		return fmt.Errorf("repeats label %q", name)
	}
	return nil
}
