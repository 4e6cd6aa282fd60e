// Hello-world Node.js function for kindling, as CommonJS (handler: index.handler).
// Same answer as examples/node/hello: {message: "Hello, <name>!", request_id: <request id>}.
'use strict';

exports.handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return { message: `Hello, ${name}!`, request_id: context.awsRequestId };
};
