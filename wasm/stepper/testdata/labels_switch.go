package main

import "fmt"

func kind(v any) string {
	switch x := v.(type) {
	case int:
		return fmt.Sprint("int ", x)
	case string:
		return "string " + x
	default:
		return "other"
	}
}

func main() {
outer:
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if j == 2 {
				continue outer
			}
			if i == 2 {
				break outer
			}
			fmt.Println(i, j)
		}
	}
	switch n := 3; {
	case n > 2:
		fmt.Println("big")
		fallthrough
	case n > 1:
		fmt.Println("medium")
	default:
		fmt.Println("small")
	}
	fmt.Println(kind(1), kind("a"), kind(1.5))
	ch := make(chan int, 1)
	ch <- 7
	select {
	case v := <-ch:
		fmt.Println("received", v)
	default:
		fmt.Println("nothing")
	}
	select {
	case v, ok := <-ch:
		fmt.Println(v, ok)
	default:
		fmt.Println("empty")
	}
	i := 0
loop:
	if i < 2 {
		i++
		goto loop
	}
	fmt.Println(i)
}

// Output:
// 0 0
// 0 1
// 1 0
// 1 1
// big
// medium
// int 1 string a other
// received 7
// empty
// 2
