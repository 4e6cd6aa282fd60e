// json (Go, aws-lambda-go): parses the shared document (an array of {id, category, value, tags}
// records, the event) and returns {"count", "by_category": {cat: {"n", "sum" rounded to 2
// decimals}}, "top3": ids of the three largest values, largest first (ties: smaller id first)}.
// An event that is not an array of records fails with errorType InvalidInput.
package main

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
)

// InvalidInput is reported by aws-lambda-go with its type name as errorType.
type InvalidInput struct{ message string }

func (e InvalidInput) Error() string { return e.message }

type record struct {
	ID       *string  `json:"id"`
	Category *string  `json:"category"`
	Value    *float64 `json:"value"`
	Tags     []string `json:"tags"`
}

type category struct {
	N   int     `json:"n"`
	Sum float64 `json:"sum"`
}

type result struct {
	Count      int                  `json:"count"`
	ByCategory map[string]*category `json:"by_category"`
	Top3       []string             `json:"top3"`
}

// round2 rounds like Python's round(x, 2): the correctly rounded decimal, parsed back.
func round2(x float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 2, 64), 64)
	return r
}

func handle(_ context.Context, raw json.RawMessage) (result, error) {
	invalid := InvalidInput{"the event must be an array of records"}
	var records []record
	if err := json.Unmarshal(raw, &records); err != nil || records == nil {
		return result{}, invalid
	}
	by := map[string]*category{}
	for _, r := range records {
		if r.ID == nil || r.Category == nil || r.Value == nil {
			return result{}, invalid
		}
		c := by[*r.Category]
		if c == nil {
			c = &category{}
			by[*r.Category] = c
		}
		c.N++
		c.Sum += *r.Value
	}
	for _, c := range by {
		c.Sum = round2(c.Sum)
	}
	sorted := make([]record, len(records))
	copy(sorted, records)
	sort.Slice(sorted, func(i, j int) bool {
		if *sorted[i].Value != *sorted[j].Value {
			return *sorted[i].Value > *sorted[j].Value
		}
		return *sorted[i].ID < *sorted[j].ID
	})
	top3 := []string{}
	for i := 0; i < len(sorted) && i < 3; i++ {
		top3 = append(top3, *sorted[i].ID)
	}
	return result{Count: len(records), ByCategory: by, Top3: top3}, nil
}

func main() {
	lambda.Start(handle)
}
