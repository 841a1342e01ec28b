package engine

import (
	"context"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
)

// cpuBound is a program that makes no socket calls: the hooks' cost alone.
const cpuBound = `package main

import "fmt"

func fib(n int) int {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

func main() {
	sum := 0
	for i := 0; i < 2000; i++ {
		sum += i % 7
	}
	fmt.Println(fib(18), sum)
}
`

func benchmarkRun(b *testing.B, opts Options) {
	e := New(func(context.Context, *wire.Call) (*wire.Result, error) { return &wire.Result{}, nil }, func(Event) {})
	for b.Loop() {
		if err := e.RunWith(context.Background(), cpuBound, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlain and BenchmarkInstrumented measure what the stepper's hooks
// cost a CPU-bound program when nobody steps: `make bench` compares them.
func BenchmarkPlain(b *testing.B)        { benchmarkRun(b, Options{Plain: true}) }
func BenchmarkInstrumented(b *testing.B) { benchmarkRun(b, Options{}) }
