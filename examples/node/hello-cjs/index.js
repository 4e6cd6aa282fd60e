// Hello-world Node.js function for kindling, as CommonJS (handler: index.handler).
'use strict';

exports.handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return { message: `Hello, ${name}!`, requestId: context.awsRequestId };
};
