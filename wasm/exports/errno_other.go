//go:build !linux && !js

package exports

import "reflect"

// errnoSymbols is empty where syscall.Errno does not use Linux numbers
// (macOS): the engine builds there, but learner code sees no errno constants.
func errnoSymbols() map[string]reflect.Value { return map[string]reflect.Value{} }
