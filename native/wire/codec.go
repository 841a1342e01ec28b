package wire

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// Limits on what one frame may hold. A frame that breaks one is refused
// whole, with a Problem reply.
const (
	MaxHeader = 64 << 10                  // bytes of JSON in one record's header (a sockets event carries a whole table)
	MaxData   = 256 << 10                 // bytes of data in one record (one read or write)
	MaxFrame  = 4 * (MaxData + MaxHeader) // bytes in one WebSocket message
)

// AppendRecord encodes rec after buf: uvarint header length, JSON header,
// uvarint data length, data. The data is the Call's, Result's or Event's Data.
func AppendRecord(buf []byte, rec Record) ([]byte, error) {
	var header []byte
	if rec.Call != nil && rec.Result == nil && rec.Event == nil && rec.Problem == nil {
		header = appendCallRecord(make([]byte, 0, 128), rec.Call)
	} else {
		var err error
		if header, err = json.Marshal(rec); err != nil {
			return buf, fmt.Errorf("encode record: %w", err)
		}
	}
	var data []byte
	switch {
	case rec.Call != nil:
		data = rec.Call.Data
	case rec.Result != nil:
		data = rec.Result.Data
	case rec.Event != nil:
		data = rec.Event.Data
	}
	if len(header) > MaxHeader {
		return buf, fmt.Errorf("encode record: header of %d bytes is over the limit of %d", len(header), MaxHeader)
	}
	if len(data) > MaxData {
		return buf, fmt.Errorf("encode record: %d bytes of data is over the limit of %d", len(data), MaxData)
	}
	buf = binary.AppendUvarint(buf, uint64(len(header)))
	buf = append(buf, header...)
	buf = binary.AppendUvarint(buf, uint64(len(data)))
	return append(buf, data...), nil
}

// EncodeFrame encodes records as one frame.
func EncodeFrame(records ...Record) ([]byte, error) {
	var buf []byte
	for _, rec := range records {
		var err error
		if buf, err = AppendRecord(buf, rec); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// ErrEmptyFrame is returned for a frame with no records.
var ErrEmptyFrame = errors.New("empty frame")

// DecodeFrame decodes every record of a frame. The records' Data slices alias
// frame. On an error it returns the records decoded before it, so a caller can
// still answer them.
func DecodeFrame(frame []byte) ([]Record, error) {
	if len(frame) == 0 {
		return nil, ErrEmptyFrame
	}
	if len(frame) > MaxFrame {
		return nil, fmt.Errorf("frame of %d bytes is over the limit of %d", len(frame), MaxFrame)
	}
	var records []Record
	for i := 0; len(frame) > 0; i++ {
		rec, rest, err := decodeRecord(frame)
		if err != nil {
			return records, fmt.Errorf("record %d: %w", i, err)
		}
		records = append(records, rec)
		frame = rest
	}
	return records, nil
}

func decodeRecord(b []byte) (Record, []byte, error) {
	var rec Record
	header, b, err := chunk(b, MaxHeader, "header")
	if err != nil {
		return rec, nil, err
	}
	data, b, err := chunk(b, MaxData, "data")
	if err != nil {
		return rec, nil, err
	}
	if res, ok := decodeResultFast(header); ok {
		rec.Result = res
	} else if call, ok := decodeCallFast(header); ok {
		rec.Call = call
	} else if err := json.Unmarshal(header, &rec); err != nil {
		return rec, nil, fmt.Errorf("header is not valid JSON: %w", err)
	}
	set := 0
	for _, isSet := range []bool{rec.Call != nil, rec.Result != nil, rec.Event != nil, rec.Problem != nil} {
		if isSet {
			set++
		}
	}
	if set != 1 {
		return rec, nil, fmt.Errorf("a record holds exactly one of call, result, event, problem; this one holds %d", set)
	}
	if len(data) > 0 {
		switch {
		case rec.Call != nil:
			rec.Call.Data = data
		case rec.Result != nil:
			rec.Result.Data = data
		case rec.Event != nil:
			rec.Event.Data = data
		default:
			return rec, nil, errors.New("only a call, a result or an event carries data")
		}
	}
	return rec, b, nil
}

// chunk reads a uvarint length and that many bytes.
func chunk(b []byte, limit int, what string) (part, rest []byte, err error) {
	n, size := binary.Uvarint(b)
	switch {
	case size == 0:
		return nil, nil, fmt.Errorf("truncated: %s length missing", what)
	case size < 0:
		return nil, nil, fmt.Errorf("bad %s length", what)
	case n > uint64(limit):
		return nil, nil, fmt.Errorf("%s of %d bytes is over the limit of %d", what, n, limit)
	}
	b = b[size:]
	if uint64(len(b)) < n {
		return nil, nil, fmt.Errorf("truncated: %s says %d bytes, %d remain", what, n, len(b))
	}
	return b[:n], b[n:], nil
}
