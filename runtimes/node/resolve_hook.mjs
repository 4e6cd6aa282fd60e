// Off-thread ESM resolve hook for Node versions without module.registerHooks (Node 20):
// when a bare specifier cannot be resolved from the importing module, retry from the layer
// and SDK directories passed in `data.parents` (file: URLs of a file in each directory's
// parent). Registered by bootstrap.cjs with module.register(); runs on Node's loader thread.
let parents = [];
const kBareSpecifier = /^(?![a-zA-Z][a-zA-Z0-9+.-]*:)(?![./])(?!#)/;

export async function initialize(data) {
  parents = (data && data.parents) || [];
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error && error.code === 'ERR_MODULE_NOT_FOUND' && kBareSpecifier.test(specifier)) {
      for (const parentURL of parents) {
        try {
          return await nextResolve(specifier, { ...context, parentURL });
        } catch (_) { /* try the next directory */ }
      }
    }
    throw error;
  }
}
