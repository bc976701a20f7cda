// Package doccheck finds exported identifiers without doc comments, so
// that a test can keep every package of Parley documented.
package doccheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Missing parses the non-test Go files in dir and lists what lacks a doc
// comment: the package clause (when the package is not main), exported
// functions and methods of exported types, exported types, their exported
// struct fields, and exported constants and variables (a comment on the
// group counts for its members).
func Missing(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	pkgDoc, pkgName, files := false, "", 0
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("doccheck: %w", err)
		}
		files++
		pkgName = f.Name.Name
		if f.Doc != nil {
			pkgDoc = true
		}
		for _, decl := range f.Decls {
			out = append(out, missingIn(n, decl)...)
		}
	}
	if files > 0 && !pkgDoc {
		out = append(out, "package "+pkgName+" has no doc comment")
	}
	sort.Strings(out)
	return out, nil
}

func missingIn(file string, decl ast.Decl) []string {
	var out []string
	switch d := decl.(type) {
	case *ast.FuncDecl:
		if d.Name.IsExported() && d.Doc == nil && (d.Recv == nil || exportedRecv(d.Recv)) {
			out = append(out, file+": func "+d.Name.Name)
		}
	case *ast.GenDecl:
		for _, spec := range d.Specs {
			switch s := spec.(type) {
			case *ast.TypeSpec:
				if !s.Name.IsExported() {
					continue
				}
				if s.Doc == nil && d.Doc == nil {
					out = append(out, file+": type "+s.Name.Name)
				}
				if st, ok := s.Type.(*ast.StructType); ok {
					for _, fld := range st.Fields.List {
						for _, n := range fld.Names {
							if n.IsExported() && fld.Doc == nil && fld.Comment == nil {
								out = append(out, file+": field "+s.Name.Name+"."+n.Name)
							}
						}
					}
				}
			case *ast.ValueSpec:
				for _, n := range s.Names {
					if n.IsExported() && s.Doc == nil && s.Comment == nil && d.Doc == nil {
						out = append(out, file+": "+n.Name)
					}
				}
			}
		}
	}
	return out
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	if ix, ok := typ.(*ast.IndexExpr); ok {
		typ = ix.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
