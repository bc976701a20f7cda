package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestDocComments fails when the package or an exported identifier has no
// doc comment.
func TestDocComments(t *testing.T) {
	fset := token.NewFileSet()
	pkgDoc := false
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			pkgDoc = true
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Name.IsExported() && d.Doc == nil {
					t.Errorf("%s: %s has no doc comment", fset.Position(d.Pos()), d.Name.Name)
				}
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.TypeSpec:
						if sp.Name.IsExported() && d.Doc == nil && sp.Doc == nil {
							t.Errorf("%s: type %s has no doc comment", fset.Position(sp.Pos()), sp.Name.Name)
						}
						if st, ok := sp.Type.(*ast.StructType); ok && sp.Name.IsExported() {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									if n.IsExported() && fl.Doc == nil && fl.Comment == nil {
										t.Errorf("%s: field %s.%s has no doc comment", fset.Position(n.Pos()), sp.Name.Name, n.Name)
									}
								}
							}
						}
						if it, ok := sp.Type.(*ast.InterfaceType); ok && sp.Name.IsExported() {
							for _, m := range it.Methods.List {
								for _, n := range m.Names {
									if m.Doc == nil && m.Comment == nil {
										t.Errorf("%s: method %s.%s has no doc comment", fset.Position(n.Pos()), sp.Name.Name, n.Name)
									}
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							if n.IsExported() && d.Doc == nil && sp.Doc == nil {
								t.Errorf("%s: %s has no doc comment", fset.Position(n.Pos()), n.Name)
							}
						}
					}
				}
			}
		}
	}
	if !pkgDoc {
		t.Error("no package doc comment")
	}
}
