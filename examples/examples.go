// Package examples holds programs a learner starts from. Each is an ordinary
// Go program that also builds and runs natively: `go run ./examples/echo`.
package examples

import _ "embed"

// Echo is the server the editor opens with.
//
//go:embed echo/main.go
var Echo string
