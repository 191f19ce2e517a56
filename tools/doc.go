// Package tools pins the code generators (buf, protoc-gen-go, protoc-gen-go-grpc) through
// `tool` directives in its own go.mod, so that their dependencies stay out of the service modules.
// It is not part of go.work; `make gen` builds the tools from here.
package tools
