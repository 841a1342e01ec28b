package main

import (
	"errors"
	"fmt"
)

func safe(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("recovered: %v", r)
		}
	}()
	f()
	return nil
}

func order() {
	for i := 0; i < 3; i++ {
		i := i
		defer fmt.Println("deferred", i)
	}
	fmt.Println("body")
}

func main() {
	order()
	fmt.Println(safe(func() { panic("boom") }))
	fmt.Println(safe(func() {
		var m map[string]int
		m["x"] = 1
	}) != nil)
	fmt.Println(safe(func() {}))
	err := errors.New("plain")
	fmt.Println(err)
}

// Output:
// body
// deferred 2
// deferred 1
// deferred 0
// recovered: boom
// true
// <nil>
// plain
