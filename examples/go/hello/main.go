// hello (Go, aws-lambda-go): {"message": "Hello, <event.name>!", "request_id": <request id>};
// name defaults to "world". A name that is not a string fails with errorType InvalidInput.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// InvalidInput is reported by aws-lambda-go with its type name as errorType.
type InvalidInput struct{ message string }

func (e InvalidInput) Error() string { return e.message }

type response struct {
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
}

func handle(ctx context.Context, event map[string]json.RawMessage) (response, error) {
	name := "world"
	if raw, ok := event["name"]; ok && string(raw) != "null" {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return response{}, InvalidInput{"name must be a string"}
		}
		if s != "" {
			name = s
		}
	}
	lc, _ := lambdacontext.FromContext(ctx)
	return response{Message: "Hello, " + name + "!", RequestID: lc.AwsRequestID}, nil
}

func main() {
	lambda.Start(handle)
}
