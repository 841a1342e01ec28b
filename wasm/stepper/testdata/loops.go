package main

import "fmt"

func main() {
	sum := 0
	for i := 0; i < 4; i++ {
		sum += i
	}
	for i, s := range []string{"a", "b"} {
		fmt.Println(i, s)
	}
	n := 0
	for n < 3 {
		n++
	}
	for {
		if n == 5 {
			break
		}
		n++
	}
	fmt.Println(sum, n)
}

// Output:
// 0 a
// 1 b
// 6 5
