// Package tools pins the code generators (buf, protoc-gen-go, protoc-gen-go-grpc) and the linters
// (staticcheck, goimports) through `tool` directives in its own go.mod, so that their dependencies
// stay out of the service modules; importorder is the house's own import-grouping check. It is not
// part of go.work; `make gen` and `make lint` build the tools from here into .bin.
package tools
