package main

import (
	"fmt"
	"sync"
)

const base = 100

func worker(id int, out chan<- int, wg *sync.WaitGroup) {
	defer wg.Done()
	out <- id * 2
}

func show(prefix string, xs ...int) { fmt.Println(prefix, xs) }

func main() {
	var wg sync.WaitGroup
	out := make(chan int, 3)
	for i := 1; i <= 3; i++ {
		wg.Add(1)
		go worker(i, out, &wg)
	}
	wg.Wait()
	close(out)
	total := 0
	for v := range out {
		total += v
	}
	fmt.Println(total)

	// Arguments are evaluated by the goroutine that says go, before it
	// goes on: the new goroutine sees n as it was.
	n := 1
	done := make(chan bool)
	go func(v int, c float64) {
		fmt.Println("got", v, c)
		done <- true
	}(n, 1.5)
	n = 2
	<-done

	xs := []int{1, 2}
	go func(prefix string, xs ...int) { show(prefix, xs...); done <- true }("xs", xs...)
	<-done
	go func(b int64) { fmt.Println(b + base); done <- true }(base * 2)
	<-done
	var mu sync.Mutex
	go func() {
		mu.Lock()
		defer mu.Unlock()
		done <- true
	}()
	<-done
	fmt.Println(n)
}

// Output:
// 12
// got 1 1.5
// xs [1 2]
// 300
// 2
