// Compat example for the official Node.js runtime interface client (aws-lambda-ric), run as a
// provided.al2023 bootstrap. Event {"name": str?, "fail": bool?, "pad": int?}: returns
// {"message": "hello <name>"} (plus "pad": pad*"x" when pad > 0, for large-body framing
// checks) or, when fail is true, throws a HelloError.
"use strict";

class HelloError extends Error {
  constructor(message) {
    super(message);
    this.name = "HelloError";
  }
}

exports.handler = async (event) => {
  const name = (event && event.name) || "world";
  if (event && event.fail === true) {
    throw new HelloError(`fail requested for ${name}`);
  }
  const result = { message: `hello ${name}` };
  if (event && Number.isInteger(event.pad) && event.pad > 0) {
    result.pad = "x".repeat(event.pad);
  }
  return result;
};
