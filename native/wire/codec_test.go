package wire

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	records := []Record{
		{Call: &Call{ID: 1, Op: OpWrite, FD: 4, Data: []byte("hello\n")}},
		{Result: &Result{ID: 2, Ret: 6, Data: []byte("world\n")}},
		{Call: &Call{ID: 3, Op: OpBind, FD: 3, Addr: netip.MustParseAddrPort("127.0.0.1:9000")}},
		{Result: &Result{ID: 4, Errno: "EADDRINUSE"}},
		{Result: &Result{ID: 5, Refused: &Refusal{Rule: "ports", Message: "no", Flag: "--ports"}}},
		{Result: &Result{ID: 6, Ret: 4, Addr: netip.MustParseAddrPort("[::1]:53122")}},
		{Event: &Event{Kind: EventHello, Message: "sockstep"}},
		{Problem: &Problem{ID: 7, Message: "bad"}},
		{Event: &Event{Kind: EventClientData, Client: 2, Data: []byte("echo\r\n")}},
		{Event: &Event{Kind: EventSockets, Sockets: []SocketInfo{
			{FD: 3, Listening: true, State: "LISTEN", Local: netip.MustParseAddrPort("127.0.0.1:9000"), Queue: new(2), Backlog: new(5)},
			{Orphan: true, State: "TIME_WAIT", Local: netip.MustParseAddrPort("127.0.0.1:9000"), Peer: netip.MustParseAddrPort("127.0.0.1:53122"), Timer: new(59000)},
		}}},
		{Call: &Call{ID: 9, Op: OpClientSend, Client: 2, Data: []byte("hi\n")}},
		{Call: &Call{ID: 10, Op: OpSendto, FD: 3, Data: []byte("ping"), Addr: netip.MustParseAddrPort("127.0.0.1:9017")}},
		{Result: &Result{ID: 11, Ret: 4, Data: []byte("pong"), Addr: netip.MustParseAddrPort("127.0.0.1:40000")}},
		{Call: &Call{ID: 12, Op: OpEpollCtl, FD: 5, Option: "EPOLL_CTL_ADD", Target: 4, Value: 1, Tag: 4}},
		{Result: &Result{ID: 13, Ret: 2, Events: []EpollEvent{{FD: 4, Events: 1, Tag: 4}, {FD: 6, Events: 0x11, Tag: 6 | 1<<32}}}},
		{Call: &Call{ID: 8, Op: OpWrite, FD: 5, Data: bytes.Repeat([]byte{0, 0xff}, MaxData/2)}},
	}
	for _, rec := range records {
		frame, err := EncodeFrame(rec)
		if err != nil {
			t.Fatalf("encode %+v: %v", rec, err)
		}
		got, err := DecodeFrame(frame)
		if err != nil {
			t.Fatalf("decode %+v: %v", rec, err)
		}
		if want := []Record{rec}; !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: got %+v; want %+v", got, want)
		}
	}
	frame, err := EncodeFrame(records...)
	if err != nil {
		t.Fatalf("encode all: %v", err)
	}
	got, err := DecodeFrame(frame)
	if err != nil {
		t.Fatalf("decode all: %v", err)
	}
	if !reflect.DeepEqual(got, records) {
		t.Errorf("several records in one frame: got %d records; want %d, equal", len(got), len(records))
	}
}

func TestEncodeLimits(t *testing.T) {
	if _, err := EncodeFrame(Record{Call: &Call{Op: OpWrite, Data: make([]byte, MaxData+1)}}); err == nil {
		t.Errorf("encode %d bytes of data: got no error; want one", MaxData+1)
	}
	if _, err := EncodeFrame(Record{Problem: &Problem{Message: strings.Repeat("x", MaxHeader)}}); err == nil {
		t.Errorf("encode a header over %d bytes: got no error; want one", MaxHeader)
	}
}

func TestDecodeBadFrames(t *testing.T) {
	good, err := EncodeFrame(Record{Call: &Call{ID: 1, Op: OpWrite, FD: 3, Data: []byte("abc")}})
	if err != nil {
		t.Fatal(err)
	}
	header := func(json string, data ...byte) []byte {
		b := binary.AppendUvarint(nil, uint64(len(json)))
		b = append(b, json...)
		b = binary.AppendUvarint(b, uint64(len(data)))
		return append(b, data...)
	}
	tests := []struct {
		name  string
		frame []byte
		want  string // a part of the error
	}{
		{"empty", nil, "empty"},
		{"oversized frame", make([]byte, MaxFrame+1), "over the limit"},
		{"truncated header length", []byte{0x80}, "truncated"},
		{"truncated header", good[:5], "truncated"},
		{"truncated data", good[:len(good)-1], "truncated"},
		{"missing data length", header(`{"call":{"op":"close"}}`)[:24], "truncated"},
		{"header over the limit", binary.AppendUvarint(nil, MaxHeader+1), "over the limit"},
		{"data over the limit", append(header(`{}`)[:3], binary.AppendUvarint(nil, MaxData+1)...), "over the limit"},
		{"huge length", binary.AppendUvarint(nil, 1<<63), "over the limit"},
		{"varint overflow", bytes.Repeat([]byte{0xff}, 11), "bad header length"},
		{"garbage JSON", header(`{"call":`), "not valid JSON"},
		{"not an object", header(`[1,2]`), "not valid JSON"},
		{"no record", header(`{}`), "exactly one"},
		{"null", header(`null`), "exactly one"},
		{"two records in one", header(`{"call":{"op":"close"},"result":{"id":1}}`), "exactly one"},
		{"data on a problem", header(`{"problem":{"message":"no"}}`, 'x'), "carries data"},
		{"bad address", header(`{"call":{"op":"bind","addr":"nowhere"}}`), "not valid JSON"},
		{"good then garbage", append(append([]byte(nil), good...), 0x05, 'x'), "record 1"},
	}
	for _, tt := range tests {
		records, err := DecodeFrame(tt.frame)
		if err == nil {
			t.Errorf("%s: got %d records and no error; want an error", tt.name, len(records))
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
	records, _ := DecodeFrame(append(append([]byte(nil), good...), 0x05, 'x'))
	if len(records) != 1 {
		t.Errorf("good then garbage: got %d records decoded before the error; want 1", len(records))
	}
}

// FuzzDecodeFrame checks that any frame decodes to records or an error,
// never a panic, and that what decodes survives a round trip.
func FuzzDecodeFrame(f *testing.F) {
	for _, recs := range [][]Record{
		{{Call: &Call{ID: 1, Op: OpSocket, Family: "AF_INET", Type: "SOCK_STREAM"}}},
		{{Call: &Call{ID: 2, Op: OpWrite, FD: 4, Data: []byte("hello\n")}}, {Result: &Result{ID: 9, Ret: 3, Data: []byte("abc")}}},
		{{Call: &Call{ID: 3, Op: OpEpollWait, FD: 5, Size: 16, Value: -1}}, {Result: &Result{ID: 3, Ret: 1, Events: []EpollEvent{{FD: 4, Events: 1, Tag: 4}}}}},
		{{Call: &Call{ID: 4, Op: OpSendto, FD: 3, Data: []byte("x"), Addr: netip.MustParseAddrPort("[::1]:9017")}}, {Call: &Call{ID: 5, Op: OpRecvfrom, FD: 3, Size: 65536}}},
	} {
		frame, err := EncodeFrame(recs...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		records, err := DecodeFrame(frame)
		if err != nil {
			return
		}
		again, err := EncodeFrame(records...)
		if err != nil {
			return // re-encoding may escape more (`<` as \u003c) and pass MaxHeader
		}
		back, err := DecodeFrame(again)
		if err != nil {
			t.Fatalf("decode of a re-encoded frame: %v", err)
		}
		if !reflect.DeepEqual(back, records) {
			t.Fatalf("round trip: got %+v; want %+v", back, records)
		}
	})
}
