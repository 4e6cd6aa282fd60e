"""Hello-world Python function for kindling (handler: app.handler).

Returns {"message": "Hello, <name>!", "request_id": <the invocation's request id>}; the name
comes from event["name"] and defaults to "world".
"""


def handler(event, context):
    name = event.get("name") if isinstance(event, dict) else None
    return {"message": f"Hello, {name or 'world'}!", "request_id": context.aws_request_id}
