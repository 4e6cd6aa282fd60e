# frozen_string_literal: true

# Hello-world Ruby function for kindling (handler: function.handler).
# Returns {"message": "Hello, <event.name>!", "request_id": <the invocation's request id>}.
def handler(event:, context:)
  name = event.is_a?(Hash) ? event['name'] : nil
  name = 'world' if name.nil? || name.to_s.empty?
  { 'message' => "Hello, #{name}!", 'request_id' => context.aws_request_id }
end
