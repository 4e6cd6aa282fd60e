// Compat example for the official Go runtime client (github.com/aws/aws-lambda-go), built as
// a provided.al2023 `bootstrap` (CGO_ENABLED=0, -tags lambda.norpc). Event
// {"name": str?, "fail": bool?, "pad": int?}: returns {"message": "hello <name>"} (plus
// "pad": pad*"x" when pad > 0, for large-body framing checks) or, when fail is true, an
// error whose type is reported by the client as "HelloError".
package main

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Name string `json:"name"`
	Fail bool   `json:"fail"`
	Pad  int    `json:"pad"`
}

type response struct {
	Message string `json:"message"`
	Pad     string `json:"pad,omitempty"`
}

// HelloError is the handler's own error type; aws-lambda-go reports its type name.
type HelloError struct{ name string }

func (e HelloError) Error() string { return "fail requested for " + e.name }

func handle(_ context.Context, req request) (response, error) {
	name := req.Name
	if name == "" {
		name = "world"
	}
	if req.Fail {
		return response{}, HelloError{name: name}
	}
	resp := response{Message: "hello " + name}
	if req.Pad > 0 {
		resp.Pad = strings.Repeat("x", req.Pad)
	}
	return resp, nil
}

func main() {
	lambda.Start(handle)
}
