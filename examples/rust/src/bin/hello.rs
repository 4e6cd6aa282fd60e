// hello (Rust, lambda_runtime): {"message": "Hello, <event.name>!", "request_id": <request id>};
// name defaults to "world". A name that is not a string fails with errorType InvalidInput.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

fn invalid(message: &str) -> Diagnostic {
    Diagnostic { error_type: "InvalidInput".into(), error_message: message.into() }
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let name = match event.payload.get("name") {
        None | Some(Value::Null) => "world",
        Some(Value::String(s)) if s.is_empty() => "world",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("name must be a string")),
    };
    Ok(json!({
        "message": format!("Hello, {name}!"),
        "request_id": event.context.request_id,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
