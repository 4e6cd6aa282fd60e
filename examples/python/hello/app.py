"""Hello-world Python function for kindling (handler: app.handler)."""


def handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    return {"message": "Hello, %s!" % (name or "world"), "requestId": context.aws_request_id}
