package pipeline

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"

	"github.com/weirdev/weir/aggregator"
)

// runningTotal is a cumulative series' total through the window ending at
// end (Unix ms).
type runningTotal struct {
	end int64
	v   float64
}

// totalKey identifies a cumulative series in every process and release (its
// state outlives them in Kafka): its labels' hash (xxhash, stable) and its
// storage policy, since one series name may be written at two policies,
// each to its own storage.
func totalKey(ser aggregator.Series) uint64 {
	h := fnv.New64a()
	h.Write([]byte(ser.Route))
	return ser.Labels.Hash() ^ h.Sum64()
}

// accumulate returns the running total of a cumulative series through the
// window ser closes: the total before it plus the window's increase. A window
// a replay closes again (at or before the total's end) gives the total it
// gave the first time, unchanged.
func (s *Stage2) accumulate(q int32, ser aggregator.Series) float64 {
	m := s.totals[q]
	if m == nil {
		m = map[uint64]runningTotal{}
		s.totals[q] = m
	}
	k := totalKey(ser)
	t := m[k]
	if ser.T <= t.end {
		return t.v
	}
	t = runningTotal{end: ser.T, v: t.v + ser.V}
	m[k] = t
	if s.changed[q] == nil {
		s.changed[q] = map[uint64]struct{}{}
	}
	s.changed[q][k] = struct{}{}
	return t.v
}

// The state records of running totals (topic weir.state, compacted), version
// 1: key = series key:u64 (big-endian); value = version:byte(1)
// end:varint total:f64 (little-endian).
const totalVersion = 1

func appendTotal(k uint64, t runningTotal) (key, value []byte) {
	key = binary.BigEndian.AppendUint64(nil, k)
	value = append([]byte{totalVersion}, binary.AppendVarint(nil, t.end)...)
	return key, binary.LittleEndian.AppendUint64(value, math.Float64bits(t.v))
}

func parseTotal(key, value []byte) (uint64, runningTotal, error) {
	if len(key) != 8 {
		return 0, runningTotal{}, fmt.Errorf("pipeline: state record key of %d bytes, want 8", len(key))
	}
	if len(value) < 1 || value[0] != totalVersion {
		return 0, runningTotal{}, fmt.Errorf("pipeline: state record of unknown version")
	}
	end, n := binary.Varint(value[1:])
	if n <= 0 || len(value) != 1+n+8 {
		return 0, runningTotal{}, fmt.Errorf("pipeline: state record of %d bytes does not decode", len(value))
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(value[1+n:]))
	return binary.BigEndian.Uint64(key), runningTotal{end: end, v: v}, nil
}
