// heavy-init (Go, aws-lambda-go): builds a 32 MB table (4,000,000 uint64 values) once, at init,
// outside the handler; each invocation only returns {"items": 4000000, "checksum": <sum of the
// table modulo 1,000,000,007>}. The same table and checksum as the C++ and Rust examples.
// An event that is not a JSON object fails with errorType InvalidInput.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

// InvalidInput is reported by aws-lambda-go with its type name as errorType.
type InvalidInput struct{ message string }

func (e InvalidInput) Error() string { return e.message }

const items = 4_000_000
const modulus = 1_000_000_007

// value(i) = x ^ (x >> 29) with x = i * 0x9E3779B97F4A7C15 (mod 2^64).
var table = func() []uint64 {
	t := make([]uint64, items)
	for i := range t {
		x := uint64(i) * 0x9E3779B97F4A7C15
		t[i] = x ^ (x >> 29)
	}
	return t
}()

var checksum = func() uint64 {
	var sum uint64
	for _, v := range table {
		sum = (sum + v%modulus) % modulus
	}
	return sum
}()

type response struct {
	Items    int    `json:"items"`
	Checksum uint64 `json:"checksum"`
}

func handle(_ context.Context, raw json.RawMessage) (response, error) {
	var event map[string]json.RawMessage
	if err := json.Unmarshal(raw, &event); err != nil || event == nil {
		return response{}, InvalidInput{"the event must be a JSON object"}
	}
	return response{Items: len(table), Checksum: checksum}, nil
}

func main() {
	lambda.Start(handle)
}
