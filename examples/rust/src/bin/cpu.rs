// cpu (Rust, lambda_runtime): the sum of i*i for i in [0, event.n) modulo 2^64, as a decimal
// JSON string. n missing or not a non-negative integer fails with errorType InvalidInput.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use std::hint::black_box;

async fn handle(event: LambdaEvent<Value>) -> Result<String, Diagnostic> {
    let n = event.payload.get("n").and_then(Value::as_u64).ok_or_else(|| Diagnostic {
        error_type: "InvalidInput".into(),
        error_message: "n must be a non-negative integer".into(),
    })?;
    let mut sum: u64 = 0;
    for i in 0..n {
        // black_box: LLVM would otherwise replace the loop by its closed form.
        sum = black_box(sum.wrapping_add(i.wrapping_mul(i)));
    }
    Ok(sum.to_string())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
