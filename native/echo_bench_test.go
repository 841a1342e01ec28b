package native

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
)

// BenchmarkEcho is what a session adds to a 64-byte echo, as a runner's
// program makes it: a blocking read that waits for the client, then a write.
// A client in this process writes and reads back.
func BenchmarkEcho(b *testing.B) {
	p := DefaultPolicy()
	p.CallsPerSecond = 0 // as a runner's session: the cap guards the bridge
	s := newSession(b, p)
	l, addr := listener(b, s)
	client, err := net.Dial("tcp", addr.String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	conn := ok(b, s, wire.Call{Op: wire.OpAccept, FD: l}).Ret
	msg, back, into := make([]byte, 64), make([]byte, 64), make([]byte, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Write(msg); err != nil {
			b.Fatal(err)
		}
		r, _ := s.Do(ctx, &wire.Call{Op: wire.OpRead, FD: conn, Size: len(into), Into: into})
		if r.Failed() || r.Ret != len(msg) {
			b.Fatalf("read: %+v", r)
		}
		if r, _ := s.Do(ctx, &wire.Call{Op: wire.OpWrite, FD: conn, Data: r.Data}); r.Failed() {
			b.Fatalf("write: %+v", r)
		}
		if _, err := io.ReadFull(client, back); err != nil {
			b.Fatal(err)
		}
	}
}
