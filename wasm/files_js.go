package main

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/sockstep/sockstep/wasm/workspace"
)

// The workspace's binary helpers for site/src/workspace.js, outside the
// Request protocol: the page keeps the files in IndexedDB itself, and asks
// engine.wasm only for what must be exact (the archive's checks) or what
// only it can read (the hackpadfs workspace of earlier versions).

// zipFiles(files) resolves to the zip archive (a Uint8Array) of files, an
// object from name to text.
func zipFiles(args []js.Value) (any, error) {
	if len(args) < 1 || args[0].Type() != js.TypeObject {
		return nil, errors.New("zip needs the files as an object from name to text")
	}
	entries := js.Global().Get("Object").Call("entries", args[0])
	files := make(map[string]string, entries.Length())
	for i := range entries.Length() {
		name, text := entries.Index(i).Index(0).String(), entries.Index(i).Index(1)
		if text.Type() != js.TypeString {
			return nil, fmt.Errorf("zip: %s is not text", name)
		}
		files[name] = text.String()
	}
	archive, err := workspace.Zip(files)
	if err != nil {
		return nil, err
	}
	u8 := js.Global().Get("Uint8Array").New(len(archive))
	js.CopyBytesToJS(u8, archive)
	return u8, nil
}

// unzipFiles(archive, existing) resolves to the files of a zip archive (a
// Uint8Array) made by zip, as an object from name to text, for a workspace
// holding the names existing (an array). A bad archive rejects, naming the
// entry.
func unzipFiles(args []js.Value) (any, error) {
	if len(args) < 1 || !args[0].InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, errors.New("unzip needs the archive as a Uint8Array")
	}
	if n := args[0].Length(); n > workspace.MaxArchiveBytes {
		// Refused before it is copied into Go's memory.
		return nil, fmt.Errorf("the archive is %d bytes; the most a workspace may be is %d", n, workspace.MaxArchiveBytes)
	}
	archive := make([]byte, args[0].Length())
	js.CopyBytesToGo(archive, args[0])
	var existing []string
	if len(args) > 1 && !args[1].IsUndefined() {
		if !args[1].InstanceOf(js.Global().Get("Array")) {
			return nil, errors.New("unzip: the workspace's names must be an array")
		}
		for i := range args[1].Length() {
			existing = append(existing, args[1].Index(i).String())
		}
	}
	files, err := workspace.Unzip(archive, existing)
	if err != nil {
		return nil, err
	}
	return filesValue(files), nil
}

// legacyFiles() resolves to every file of the workspace earlier versions
// kept on hackpadfs in IndexedDB, as an object from name to text, or null
// when there is none.
func legacyFiles(args []js.Value) (any, error) {
	files, err := workspace.Legacy(context.Background())
	if err != nil || files == nil {
		return nil, err
	}
	return filesValue(files), nil
}

// filesValue is files as a JavaScript object (js.ValueOf takes
// map[string]any, not map[string]string).
func filesValue(files map[string]string) js.Value {
	o := make(map[string]any, len(files))
	for name, text := range files {
		o[name] = text
	}
	return js.ValueOf(o)
}
