package main

import "fmt"

var x = "package"

func main() {
	fmt.Println(x)
	x := 1
	{
		x := "inner"
		fmt.Println(x)
	}
	if x := 2.5; x > 2 {
		fmt.Println(x)
	}
	const y = 3
	{
		type x int
		var z x = 4
		fmt.Println(z, y)
	}
	a, b := 1, 2
	a, b = b, a
	c, a := 3, 9
	fmt.Println(x, a, b, c)
	var (
		p, q = "p", "q"
		r    int
	)
	fmt.Println(p, q, r)
}

// Output:
// package
// inner
// 2.5
// 4 3
// 1 9 1 3
// p q 0
