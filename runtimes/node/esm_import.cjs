// kindling's Node.js runtime: import() for a bootstrap deserialised from a V8 startup snapshot,
// whose own code has no dynamic-import callback (bootstrap.cjs, importModule). Loaded at run time.
'use strict';

module.exports = (url) => import(url);
