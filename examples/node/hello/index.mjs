// Hello-world Node.js function for kindling, as an ES module (handler: index.handler).
export const handler = async (event, context) => {
  const name = (event && event.name) || 'world';
  return { message: `Hello, ${name}!`, requestId: context.awsRequestId };
};
