// Package stepper steps through a learner's program one line or one socket
// call at a time. It owns the line events instead of relying on yaegi's
// debugger: Instrument rewrites the source, before yaegi sees it, with a hook
// before each statement (on the statement's own line, so every position
// yaegi reports stays the learner's), and a Stepper decides at each hook
// whether the goroutine stops there, blocking it while it is paused.
//
// A hook costs almost nothing while nobody steps. In yaegi a call into Go
// goes through reflection, and every value an expression yields takes a
// slot that each call of the function allocates anew (a package selector
// such as _sockstep.Hook is one, a call's result another). So a hook is
//
//	_ssl3 = 12; if _ssb12 { _ssh(12, "n sum", n, sum) }
//
// two statements on interpreted package variables, which take no slot: the
// last line function 3 reached (where its panic is placed) and the line's
// switch, which the Stepper turns on for breakpoint lines and, while a step,
// a pause or a stop is under way, for every line. Only then is Hook called,
// through _ssh, a variable that holds it (a variable takes no slot, a
// selector would).
package stepper

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strings"
)

// HookPackage is the import path of the hooks in instrumented source, and
// hookName the name it is imported as: unlikely to meet a learner's name.
const (
	HookPackage = "sockstep/stepper"
	hookName    = "_sockstep"
)

// Program is instrumented source and what the Stepper needs to know of it.
type Program struct {
	Source string // the instrumented source, line for line the learner's
	// Lines are the lines that hold a statement hook, in order.
	Lines []int
	// funcOf maps a line to the innermost function whose statements start
	// there (1-based index into funcs; 0 for none).
	funcOf []int
	funcs  int
}

// FuncOf is the index of the function whose statement is on line (0 when
// none): panics are placed by the last hook passed in that function.
func (p *Program) FuncOf(line int) int {
	if line <= 0 || line >= len(p.funcOf) {
		return 0
	}
	return p.funcOf[line]
}

// Instrument adds the hooks to src. It fails only when src does not parse;
// then the plain source should be compiled for yaegi's own diagnostics.
func Instrument(src string) (*Program, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "main.go", src, 0)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	in := &instrumenter{fset: fset, src: src, file: f, funcOf: make([]int, strings.Count(src, "\n")+2)}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		sc := &scope{}
		if fd.Recv != nil {
			sc.fields(fd.Recv)
		}
		sc.fields(fd.Type.Params)
		sc.fields(fd.Type.Results)
		in.function(fd.Body, sc)
	}
	lines := make([]int, 0, len(in.lines))
	for l := range in.lines {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	// The import goes on the package clause's line and the hooks' variables
	// after the last import, so no line moves.
	in.insert(f.Name.End(), fmt.Sprintf("; import %s %q", hookName, HookPackage))
	at := f.Name.End()
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.IMPORT {
			at = gd.End()
		}
	}
	in.insert(at, "; "+declarations(lines, in.funcs))
	return &Program{Source: in.apply(), Lines: lines, funcOf: in.funcOf, funcs: in.funcs}, nil
}

// declarations declares what the hooks use: _ssh, the Hook; a switch
// _ssbL for each hooked line L; _sslF, the last line function F reached; and
// hands the switches and lines to the Stepper (see Stepper.Attach). Being
// the first package variables declared, they are initialized before any of
// the learner's.
func declarations(lines []int, funcs int) string {
	var flags, lasts, switches, lastLines []string
	for _, l := range lines {
		flags = append(flags, fmt.Sprintf("_ssb%d", l))
		switches = append(switches, fmt.Sprintf("&_ssb%d", l))
	}
	for fn := 1; fn <= funcs; fn++ {
		lasts = append(lasts, fmt.Sprintf("_ssl%d", fn))
		lastLines = append(lastLines, fmt.Sprintf("&_ssl%d", fn))
	}
	decl := fmt.Sprintf("var _ssh = %s.Hook", hookName)
	if len(flags) > 0 {
		decl += "; var " + strings.Join(flags, ", ") + " bool"
	}
	if len(lasts) > 0 {
		decl += "; var " + strings.Join(lasts, ", ") + " int"
	}
	return decl + fmt.Sprintf("; var _ = %s.Attach([]*bool{%s}, []*int{%s})",
		hookName, strings.Join(switches, ", "), strings.Join(lastLines, ", "))
}

// An edit replaces src[from:to] with text.
type edit struct {
	from, to int
	text     string
}

type instrumenter struct {
	fset   *token.FileSet
	src    string
	file   *ast.File
	edits  []edit
	lines  map[int]bool
	funcOf []int
	funcs  int
	fn     int // the function being walked
}

func (in *instrumenter) off(p token.Pos) int  { return in.fset.Position(p).Offset }
func (in *instrumenter) line(p token.Pos) int { return in.fset.Position(p).Line }

func (in *instrumenter) insert(at token.Pos, text string) {
	o := in.off(at)
	in.edits = append(in.edits, edit{o, o, text})
}

// replace replaces [from, to) with text followed by the newlines it held,
// so the lines after stay where they were.
func (in *instrumenter) replace(from, to int, text string) {
	in.edits = append(in.edits, edit{from, to, text + strings.Repeat("\n", strings.Count(in.src[from:to], "\n"))})
}

func (in *instrumenter) apply() string {
	sort.SliceStable(in.edits, func(i, j int) bool { return in.edits[i].from < in.edits[j].from })
	var b strings.Builder
	at := 0
	for _, e := range in.edits {
		b.WriteString(in.src[at:e.from])
		b.WriteString(e.text)
		at = e.to
	}
	b.WriteString(in.src[at:])
	return b.String()
}

// function walks one function body (a declaration's or a literal's).
func (in *instrumenter) function(body *ast.BlockStmt, sc *scope) {
	outer := in.fn
	in.funcs++
	in.fn = in.funcs
	in.block(body.List, sc.child())
	in.fn = outer
}

// block hooks each statement of a list that shares one scope.
func (in *instrumenter) block(list []ast.Stmt, sc *scope) {
	for _, s := range list {
		if _, empty := s.(*ast.EmptyStmt); !empty {
			in.hook(s, sc)
		}
		in.stmt(s, sc)
	}
}

// hook inserts the statement hook before s: it notes the line as the
// function's last, and when the line's switch is on calls Hook with the
// names and values of the variables in scope.
func (in *instrumenter) hook(s ast.Stmt, sc *scope) {
	line := in.line(s.Pos())
	if in.lines == nil {
		in.lines = map[int]bool{}
	}
	in.lines[line] = true
	if line < len(in.funcOf) {
		in.funcOf[line] = in.fn
	}
	names := sc.visible()
	args := ""
	if len(names) > 0 {
		args = ", " + strings.Join(names, ", ")
	}
	in.insert(s.Pos(), fmt.Sprintf("_ssl%d = %d; if _ssb%d { _ssh(%d, %q%s) }; ",
		in.fn, line, line, line, strings.Join(names, " "), args))
}

func (in *instrumenter) stmt(s ast.Stmt, sc *scope) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		in.exprs(s.Rhs, sc)
		in.exprs(s.Lhs, sc)
		if s.Tok == token.DEFINE {
			for _, e := range s.Lhs {
				if id, ok := e.(*ast.Ident); ok {
					sc.declare(id.Name, true)
				}
			}
		}
	case *ast.DeclStmt:
		gd, ok := s.Decl.(*ast.GenDecl)
		if !ok {
			return
		}
		for _, spec := range gd.Specs {
			switch spec := spec.(type) {
			case *ast.ValueSpec:
				in.exprs(spec.Values, sc)
				for _, n := range spec.Names {
					sc.declare(n.Name, gd.Tok == token.VAR)
				}
			case *ast.TypeSpec:
				sc.declare(spec.Name.Name, false) // a type shadows, but is no value
			}
		}
	case *ast.LabeledStmt:
		// The hook went before the label: a hook between a label and its
		// loop would take the label, and break L would not compile.
		in.stmt(s.Stmt, sc)
	case *ast.BlockStmt:
		in.block(s.List, sc.child())
	case *ast.IfStmt:
		inner := sc.child()
		if s.Init != nil {
			in.stmt(s.Init, inner)
		}
		in.expr(s.Cond, inner)
		in.block(s.Body.List, inner.child())
		if s.Else != nil {
			in.stmt(s.Else, inner)
		}
	case *ast.ForStmt:
		inner := sc.child()
		if s.Init != nil {
			in.stmt(s.Init, inner)
		}
		if s.Cond != nil {
			in.expr(s.Cond, inner)
		}
		if s.Post != nil {
			in.stmt(s.Post, inner)
		}
		in.block(s.Body.List, inner.child())
	case *ast.RangeStmt:
		in.expr(s.X, sc)
		inner := sc.child()
		if s.Tok == token.DEFINE {
			for _, e := range []ast.Expr{s.Key, s.Value} {
				if id, ok := e.(*ast.Ident); ok {
					inner.declare(id.Name, true)
				}
			}
		}
		in.block(s.Body.List, inner.child())
	case *ast.SwitchStmt:
		inner := sc.child()
		if s.Init != nil {
			in.stmt(s.Init, inner)
		}
		if s.Tag != nil {
			in.expr(s.Tag, inner)
		}
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			in.exprs(cc.List, inner)
			in.block(cc.Body, inner.child())
		}
	case *ast.TypeSwitchStmt:
		inner := sc.child()
		if s.Init != nil {
			in.stmt(s.Init, inner)
		}
		bound := ""
		switch a := s.Assign.(type) {
		case *ast.AssignStmt:
			in.exprs(a.Rhs, inner)
			if id, ok := a.Lhs[0].(*ast.Ident); ok {
				bound = id.Name
			}
		case *ast.ExprStmt:
			in.expr(a.X, inner)
		}
		for _, c := range s.Body.List {
			cc := c.(*ast.CaseClause)
			clause := inner.child()
			if bound != "" && bound != "_" {
				clause.declare(bound, true)
			}
			in.block(cc.Body, clause)
		}
	case *ast.SelectStmt:
		for _, c := range s.Body.List {
			cc := c.(*ast.CommClause)
			clause := sc.child()
			if cc.Comm != nil {
				in.stmt(cc.Comm, clause)
			}
			in.block(cc.Body, clause)
		}
	case *ast.GoStmt:
		in.goStmt(s, sc)
	case *ast.DeferStmt:
		in.expr(s.Call, sc)
	case *ast.ExprStmt:
		in.expr(s.X, sc)
	case *ast.ReturnStmt:
		in.exprs(s.Results, sc)
	case *ast.SendStmt:
		in.expr(s.Chan, sc)
		in.expr(s.Value, sc)
	case *ast.IncDecStmt:
		in.expr(s.X, sc)
	}
}

func (in *instrumenter) exprs(list []ast.Expr, sc *scope) {
	for _, e := range list {
		in.expr(e, sc)
	}
}

// expr instruments the function literals inside e.
func (in *instrumenter) expr(e ast.Expr, sc *scope) {
	if e == nil {
		return
	}
	ast.Inspect(e, func(n ast.Node) bool {
		lit, ok := n.(*ast.FuncLit)
		if !ok {
			return true
		}
		inner := sc.child()
		inner.fields(lit.Type.Params)
		inner.fields(lit.Type.Results)
		in.function(lit.Body, inner)
		return false
	})
}

// goStmt tells goroutines apart: `go f(x, y)` becomes
//
//	{ _ssf, _ssa0, _ssa1 := f, x, y; go func() { g := Go(); defer Done(g); _ssf(_ssa0, _ssa1) }() }
//
// so the function value and the arguments are still evaluated by the
// goroutine that says go, in Go's order, and the new goroutine registers
// itself before it runs f. Constant arguments are not pre-evaluated (an
// untyped constant would take its default type); they are copied into the
// call, which they cannot tell from being evaluated earlier. Builtins
// (`go println(x)`) are left alone.
func (in *instrumenter) goStmt(s *ast.GoStmt, sc *scope) {
	call := s.Call
	in.expr(call, sc)
	if id, ok := call.Fun.(*ast.Ident); ok && id.Obj == nil && builtins[id.Name] {
		return
	}
	lhs := []string{"_ssf"}
	var args []string
	for i, a := range call.Args {
		if isConstant(a) {
			lhs = append(lhs, "_")
			args = append(args, in.src[in.off(a.Pos()):in.off(a.End())])
			in.replace(in.off(a.Pos()), in.off(a.End()), "0")
			continue
		}
		name := fmt.Sprintf("_ssa%d", i)
		lhs = append(lhs, name)
		args = append(args, name)
	}
	in.replace(in.off(s.Go), in.off(s.Go)+len("go"), "{ "+strings.Join(lhs, ", ")+" :=")
	open := ", "
	if len(call.Args) == 0 {
		open = ""
	}
	in.replace(in.off(call.Fun.End()), in.off(call.Lparen)+1, open)
	ellipsis := ""
	end := in.off(call.Rparen) + 1
	tail := end - 1
	if len(call.Args) > 0 {
		tail = in.off(call.Args[len(call.Args)-1].End())
	}
	if call.Ellipsis.IsValid() {
		ellipsis = "..."
	}
	in.replace(tail, end, fmt.Sprintf("; go func() { _ssg := %s.Go(); defer %s.Done(_ssg); _ssf(%s%s) }() }",
		hookName, hookName, strings.Join(args, ", "), ellipsis))
}

var builtins = map[string]bool{
	"append": true, "cap": true, "clear": true, "close": true, "complex": true, "copy": true,
	"delete": true, "imag": true, "len": true, "make": true, "max": true, "min": true, "new": true,
	"panic": true, "print": true, "println": true, "real": true, "recover": true,
}

// isConstant reports whether e is (as far as the syntax tells) a constant
// expression: a literal, a named constant of this file, a package's
// qualified name (syscall.AF_INET), or operators over those.
func isConstant(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		if e.Obj != nil {
			return e.Obj.Kind == ast.Con
		}
		return e.Name == "nil" || e.Name == "true" || e.Name == "false" || e.Name == "iota"
	case *ast.SelectorExpr:
		id, ok := e.X.(*ast.Ident)
		return ok && id.Obj == nil && !builtins[id.Name] && id.Name != "nil"
	case *ast.ParenExpr:
		return isConstant(e.X)
	case *ast.UnaryExpr:
		return e.Op != token.AND && e.Op != token.ARROW && isConstant(e.X)
	case *ast.BinaryExpr:
		return isConstant(e.X) && isConstant(e.Y)
	}
	return false
}

// scope is one lexical block's names, innermost first when walked up.
type scope struct {
	parent *scope
	names  []binding
}

// binding is a declared name; only variables are shown, but constants and
// types still hide an outer variable of the same name.
type binding struct {
	name     string
	variable bool
}

func (s *scope) child() *scope { return &scope{parent: s} }

func (s *scope) declare(name string, variable bool) {
	if name == "_" || name == "" {
		return
	}
	for i, b := range s.names {
		if b.name == name {
			s.names[i].variable = variable
			return
		}
	}
	s.names = append(s.names, binding{name, variable})
}

func (s *scope) fields(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		for _, n := range f.Names {
			s.declare(n.Name, true)
		}
	}
}

// visible lists the variables in scope, outer ones first, each name once:
// the innermost binding, which is what the name means at this statement.
func (s *scope) visible() []string {
	var chain []*scope
	for c := s; c != nil; c = c.parent {
		chain = append(chain, c)
	}
	seen := map[string]bool{}
	var out []string
	for _, c := range chain { // innermost first decides
		for i := len(c.names) - 1; i >= 0; i-- {
			b := c.names[i]
			if seen[b.name] {
				continue
			}
			seen[b.name] = true
			if b.variable {
				out = append(out, b.name)
			}
		}
	}
	// Outer first, in declaration order, reads like the source.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
