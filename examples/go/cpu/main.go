// cpu (Go, aws-lambda-go): the sum of i*i for i in [0, event.n) modulo 2^64, as a decimal JSON
// string. n missing or not a non-negative integer fails with errorType InvalidInput.
package main

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
)

// InvalidInput is reported by aws-lambda-go with its type name as errorType.
type InvalidInput struct{ message string }

func (e InvalidInput) Error() string { return e.message }

//go:noinline
func sumSquares(n uint64) uint64 {
	var sum uint64
	for i := uint64(0); i < n; i++ {
		sum += i * i
	}
	return sum
}

func handle(_ context.Context, event map[string]json.RawMessage) (string, error) {
	raw, ok := event["n"]
	if !ok {
		return "", InvalidInput{"n must be a non-negative integer"}
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return "", InvalidInput{"n must be a non-negative integer"}
	}
	return strconv.FormatUint(sumSquares(n), 10), nil
}

func main() {
	lambda.Start(handle)
}
