// Compat example for the official Rust runtime client (`lambda_runtime`), deployed as a
// provided.al2023 `bootstrap`. Event {"name": str?, "fail": bool?, "pad": int?}: returns
// {"message": "hello <name>"} (plus "pad": pad*"x" when pad > 0, for large-body framing
// checks) or, when fail is true, an error of type HelloError.
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    pad: usize,
}

#[derive(Serialize)]
struct Response {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pad: Option<String>,
}

async fn handle(event: LambdaEvent<Request>) -> Result<Response, Diagnostic> {
    let name = event.payload.name.unwrap_or_else(|| "world".to_string());
    if event.payload.fail {
        return Err(Diagnostic {
            error_type: "HelloError".to_string(),
            error_message: format!("fail requested for {name}"),
        });
    }
    let pad = event.payload.pad;
    Ok(Response {
        message: format!("hello {name}"),
        pad: (pad > 0).then(|| "x".repeat(pad)),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(handle)).await
}
