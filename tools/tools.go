//go:build tools

// Package tools pins the developer tools that .ci/run and the notebooks use:
// staticcheck, GoNB (the Go kernel for Jupyter) and goimports (which GoNB
// calls). It is a module of its own so that the library's go.mod does not
// depend on them. Install them with:
//
//	cd tools && go install honnef.co/go/tools/cmd/staticcheck github.com/janpfeifer/gonb golang.org/x/tools/cmd/goimports
package tools

import (
	_ "github.com/janpfeifer/gonb"
	_ "golang.org/x/tools/cmd/goimports"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
