// json (Rust, lambda_runtime): parses the shared document (an array of {id, category, value,
// tags} records, the event) and returns {"count", "by_category": {cat: {"n", "sum" rounded to 2
// decimals}}, "top3": ids of the three largest values, largest first (ties: smaller id first)}.
// An event that is not an array of records fails with errorType InvalidInput.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Record {
    id: String,
    category: String,
    value: f64,
    #[allow(dead_code)]
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Serialize, Default)]
struct Category {
    n: u64,
    sum: f64,
}

#[derive(Serialize)]
struct Summary {
    count: usize,
    by_category: BTreeMap<String, Category>,
    top3: Vec<String>,
}

// Rounds like Python's round(x, 2): the correctly rounded decimal, parsed back.
fn round2(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

async fn handle(event: LambdaEvent<Value>) -> Result<Summary, Diagnostic> {
    let records: Vec<Record> = serde_json::from_value(event.payload).map_err(|_| Diagnostic {
        error_type: "InvalidInput".into(),
        error_message: "the event must be an array of records".into(),
    })?;
    let mut by_category: BTreeMap<String, Category> = BTreeMap::new();
    for r in &records {
        let c = by_category.entry(r.category.clone()).or_default();
        c.n += 1;
        c.sum += r.value;
    }
    for c in by_category.values_mut() {
        c.sum = round2(c.sum);
    }
    let mut order: Vec<&Record> = records.iter().collect();
    order.sort_by(|a, b| b.value.total_cmp(&a.value).then_with(|| a.id.cmp(&b.id)));
    let top3 = order.iter().take(3).map(|r| r.id.clone()).collect();
    Ok(Summary { count: records.len(), by_category, top3 })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
