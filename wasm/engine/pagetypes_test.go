package engine

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockstep/sockstep/native/wire"
	"github.com/sockstep/sockstep/wasm/stepper"
)

// pageTypes is the page's mirror of the protocol.
const pageTypes = "../../site/src/engine.d.ts"

var (
	blockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	lineComment  = regexp.MustCompile(`(?m)//.*$`)
	// A property of an object type: `  name: …` or `name?: …`.
	property = regexp.MustCompile(`(\w+)\??:`)
)

// dts is engine.d.ts without its comments.
func dts(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(pageTypes)
	if err != nil {
		t.Fatal(err)
	}
	return lineComment.ReplaceAllString(blockComment.ReplaceAllString(string(b), ""), "")
}

// block is the body of `export interface name {…}` or `export type name = …;`.
func block(t *testing.T, src, kind, name string) string {
	t.Helper()
	var re *regexp.Regexp
	if kind == "interface" {
		re = regexp.MustCompile(`(?s)export interface ` + name + ` \{(.*?)\n\}`)
	} else {
		re = regexp.MustCompile(`(?s)export type ` + name + ` =(.*?);\n`)
	}
	m := re.FindStringSubmatch(src)
	if m == nil {
		t.Fatalf("%s declares no %s %s", pageTypes, kind, name)
	}
	return m[1]
}

// fields are the property names of an interface body, top level only.
func fields(body string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   ") {
			if m := property.FindStringSubmatch(line); m != nil && strings.HasPrefix(strings.TrimSpace(line), m[0]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// constants are the string values of this package's constants named
// prefix…, read from the Go source.
func constants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if strings.HasPrefix(name.Name, prefix) && i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						out = append(out, s)
					}
				}
			}
		}
		return true
	})
	slices.Sort(out)
	return out
}

// TestPageTypesMatch holds site/src/engine.d.ts to the Go side: every event
// type the engine sends is declared with exactly the fields it encodes, and
// every request method and field the engine reads is declared.
func TestPageTypesMatch(t *testing.T) {
	src := dts(t)

	// Events: the union's members, by their type literal.
	declared := map[string][]string{}
	for _, name := range regexp.MustCompile(`\w+`).FindAllString(block(t, src, "type", "EngineEvent"), -1) {
		body := block(t, src, "interface", name)
		m := regexp.MustCompile(`type: "([a-z-]+)"`).FindStringSubmatch(body)
		if m == nil {
			t.Errorf("%s: no type literal", name)
			continue
		}
		declared[m[1]] = fields(body)
	}
	full := Event{Stream: "stdout", Text: "x", ID: 1, Failed: true, Kind: KindCompile, Line: 1, Column: 1, Message: "x", Error: "x",
		Sockets: []wire.SocketInfo{}, Client: 1, Data: []byte("x"), Goroutine: 1, Reason: "step",
		Variables: []stepper.Var{}, Goroutines: []stepper.Goroutine{}, TraceLength: 1, Session: "x", Value: 1, Pid: 1, Calls: 1, Bytes: 1}
	types := constants(t, "event.go", "Type")
	for _, typ := range types {
		e := full
		e.Type = typ
		var encoded map[string]any
		if err := json.Unmarshal(e.AppendJSON(nil), &encoded); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var keys []string
		for k := range encoded {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if got, ok := declared[typ]; !ok {
			t.Errorf("event %q is not declared in %s's EngineEvent", typ, pageTypes)
		} else if !reflect.DeepEqual(got, keys) {
			t.Errorf("event %q: %s declares %v; the engine encodes %v", typ, pageTypes, got, keys)
		}
	}
	for typ := range declared {
		if !slices.Contains(types, typ) {
			t.Errorf("%s declares event %q, which the engine never sends", pageTypes, typ)
		}
	}

	// Requests: the methods, and the fields their arguments may hold.
	var methods, argTypes []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+): \{ args: (\w+);`).FindAllStringSubmatch(block(t, src, "interface", "Methods"), -1) {
		methods = append(methods, m[1])
		argTypes = append(argTypes, m[2])
	}
	slices.Sort(methods)
	if want := constants(t, "protocol.go", "Method"); !reflect.DeepEqual(methods, want) {
		t.Errorf("%s's Methods are %v; the engine's are %v", pageTypes, methods, want)
	}
	reqFields := []string{"id", "method"}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(argTypes))) {
		if name == "NoArgs" {
			continue
		}
		body := ""
		if regexp.MustCompile(`export interface ` + name + ` \{`).MatchString(src) {
			body = block(t, src, "interface", name)
			reqFields = append(reqFields, fields(body)...)
		} else {
			body = block(t, src, "type", name)
			for _, m := range property.FindAllStringSubmatch(body, -1) {
				reqFields = append(reqFields, m[1])
			}
		}
	}
	slices.Sort(reqFields)
	reqFields = slices.Compact(reqFields)
	var goFields []string
	rt := reflect.TypeOf(Request{})
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		goFields = append(goFields, name)
	}
	slices.Sort(goFields)
	if !reflect.DeepEqual(reqFields, goFields) {
		t.Errorf("%s's requests carry %v; engine.Request reads %v", pageTypes, reqFields, goFields)
	}
}
