package main

import "fmt"

func counter() func() int {
	n := 0
	return func() int {
		n++
		return n
	}
}

func main() {
	c := counter()
	c()
	c()
	fmt.Println(c())
	var fs []func() int
	for i := 0; i < 3; i++ {
		i := i // one variable per iteration, in any Go
		fs = append(fs, func() int { return i * 10 })
	}
	for _, f := range fs {
		fmt.Println(f())
	}
	add := func(a int) func(int) int {
		return func(b int) int { return a + b }
	}
	fmt.Println(add(2)(3))
}

// Output:
// 3
// 0
// 10
// 20
// 5
