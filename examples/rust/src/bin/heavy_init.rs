// heavy-init (Rust, lambda_runtime): builds a 32 MB table (4,000,000 u64 values) once, at init,
// outside the handler; each invocation only returns {"items": 4000000, "checksum": <sum of the
// table modulo 1,000,000,007>}. The same table and checksum as the C++ and Go examples.
// An event that is not a JSON object fails with errorType InvalidInput.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

const ITEMS: u64 = 4_000_000;
const MODULUS: u64 = 1_000_000_007;

struct Table {
    values: Vec<u64>,
    checksum: u64,
}

// value(i) = x ^ (x >> 29) with x = i * 0x9E3779B97F4A7C15 (mod 2^64).
fn build_table() -> Table {
    let values: Vec<u64> = (0..ITEMS)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x ^ (x >> 29)
        })
        .collect();
    let checksum = values.iter().fold(0u64, |sum, v| (sum + v % MODULUS) % MODULUS);
    Table { values, checksum }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let table = build_table(); // init phase: before the first /next
    let table = &table;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        if !event.payload.is_object() {
            return Err(Diagnostic {
                error_type: "InvalidInput".into(),
                error_message: "the event must be a JSON object".into(),
            });
        }
        Ok(json!({"items": table.values.len(), "checksum": table.checksum}))
    }))
    .await
}
