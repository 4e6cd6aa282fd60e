// Hello-world Node.js function for kindling, as an ES module (handler: index.handler).
// Returns {message: "Hello, <name>!", request_id: <the invocation's request id>}; the name comes
// from event.name and defaults to "world".
export const handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return { message: `Hello, ${name}!`, request_id: context.awsRequestId };
};
