// kindling's Node.js runtime (Node 20/22/24, built-in modules only): runs AWS-style
// `file.function` handlers against the Lambda Runtime API (2018-06-01).
//
// What and why:
// - The entry is CommonJS on purpose: a CJS handler then never starts the ESM loader, which
//   is the cheapest path to the first /next. ES module handlers (.mjs, or .js under a
//   package.json with "type":"module") are loaded with import().
// - Handler lookup, the context object, console patching ("<ISO ts>\t<request id>\t<LEVEL>\t
//   <msg>", inner newlines as \r), the error shape {"errorType","errorMessage","trace"}, the
//   Runtime.* init errors and the treatment of uncaught exceptions / unhandled rejections copy
//   what AWS's Node runtime does, so functions behave the same here and there.
// - Callback handlers (3 parameters), context.callbackWaitsForEmptyEventLoop and the legacy
//   context.succeed/fail/done are supported on every Node version (AWS dropped them on 24).
// - The AWS SDK v3 installed under /opt/kindling/sdk/node is importable without packaging it:
//   require() finds it through NODE_PATH (set here, as AWS's bootstrap does), import() through
//   a resolve hook that retries a failed bare specifier from the SDK and layer directories
//   (module.registerHooks, in-thread, where Node has it; module.register on Node 20, only
//   when an ES module handler is loaded, since it starts a loader thread).
// - `gc` is a global function, as with AWS's --expose-gc, but kindling does not pass that V8
//   flag: any V8 flag changes V8's flag hash, which makes V8 reject the code cache Node ships
//   for its built-in modules, and every built-in is then compiled from source (measured ~8 ms
//   per cold start, docs/runtimes.md). The global gc() turns the flag on at its first call.
// - One keep-alive HTTP/1.1 connection to the Runtime API, spoken over node:net by a small
//   client of its own (RuntimeClient): loading node:http (parser, agent, message classes) cost
//   ~3.5 ms of a Node 24 cold start, measured against a bare `node -e 0` (docs/runtimes.md).
//   The socket is unref'd while idle, so it never holds the event loop open (as Node's
//   keep-alive agent does).
//
// - A V8 startup snapshot of this file (fast start, docs/runtimes.md "V8 startup snapshot"):
//   `node <flags> --snapshot-blob B --build-snapshot bootstrap.cjs` runs the file up to its
//   last line, which then registers snapshotMain instead of calling main; `node <flags>
//   --snapshot-blob B` deserialises that heap (the built-in modules below already loaded and
//   compiled with the run's V8 flags) and calls snapshotMain. Code from a snapshot has a
//   require() for built-in modules only and no import(): user modules are loaded through
//   Module.createRequire, ES modules through esm_import.cjs, and everything that depends on
//   the environment is read in main, never at the top level.
//
// Launch: node [--expose-gc] [heap flags] <LAMBDA_RUNTIME_DIR>/bootstrap.cjs [handler]
//         node [heap flags] --snapshot-blob <blob>   (built as above with the same V8 flags)
//         (default $_HANDLER; KINDLING_NODE_ESM_HOOK=0: the engine made the SDK resolvable)
// Threading: Node's single event loop; nothing here is shared with worker threads.
'use strict';

const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const v8 = require('node:v8');
const { pathToFileURL } = require('node:url');

const kBuildingSnapshot = v8.startupSnapshot.isBuildingSnapshot();
// node:module is "not verified" for snapshots: loaded in main when running from one.
let Module = kBuildingSnapshot ? null : require('node:module');
// How user code is loaded: this module's require, or (from a snapshot) one made in main.
let userRequire = require;
let fromSnapshot = false;
let runtimeDir = __dirname;

const kApiPrefix = '/2018-06-01/runtime';
// Set in main from the environment (a snapshot's top level ran at build time).
let sdkDir = '/opt/kindling/sdk/node';
// Where the function's layers are: /opt in the sandbox, the merged tree on the host otherwise.
let optDir = '/opt';
const kNodeMajor = process.versions.node.split('.')[0];
const kExitUncaughtException = 129;
const kExitUnhandledRejection = 128;

// ------------------------------------------------------------------------------ errors

class RuntimeError extends Error {
  constructor(type, message) {
    super(message);
    Object.defineProperty(this, 'name', { value: type, enumerable: false, writable: true });
  }
}

function isErrorLike(value) {
  return value !== null && typeof value === 'object' && typeof value.name === 'string' &&
    typeof value.message === 'string' && typeof value.stack === 'string';
}

// The JSON posted to /error and /init/error, as AWS's Node runtime builds it.
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: String(error.name).replace(/\x7F/g, '%7F'),
        errorMessage: String(error.message).replace(/\x7F/g, '%7F'),
        trace: String(error.stack).replace(/\x7F/g, '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: String(error), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while ' +
        'retrieving one or more of its message, name, and stack',
    };
  }
}

// The object logged after "Uncaught Exception" / "Invoke Error": enumerable fields kept.
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_key, value) => {
      if (util.types.isNativeError(value) || isErrorLike(value)) {
        return Object.assign({
          errorType: value.name,
          errorMessage: value.message,
          stack: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
        }, value);
      }
      return value;
    });
  } catch (_) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

// ------------------------------------------------------------------------------ logging

let currentRequestId; // undefined until the first invoke, as on AWS

function patchConsole() {
  const stdout = process.stdout;
  const make = (level) => function patched(...args) {
    const line = `${new Date().toISOString()}\t${currentRequestId}\t${level}\t` +
      util.format(...args);
    stdout.write(line.replace(/\n/g, '\r') + '\n');
  };
  console.log = make('INFO');
  console.info = make('INFO');
  console.debug = make('DEBUG');
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.trace = make('TRACE');
  console.fatal = make('FATAL');
}

// ------------------------------------------------------------------------------ Runtime API client

// A response head and body parsed from `buf`: null while incomplete; throws on a malformed one.
// {status, headers (lower-case names), body: Buffer, close (the server ends the connection),
// untilClose (no length: the body is whatever comes until the server closes)}.
function parseResponse(buf, closed) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > 65536) throw new Error('Runtime API response head too large');
    return null;
  }
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
  if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0].slice(0, 100))}`);
  const status = Number(m[2]);
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const close = m[1] === '0' || (headers.connection || '').toLowerCase() === 'close';
  let rest = buf.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const chunks = [];
    for (;;) {
      const eol = rest.indexOf('\r\n');
      if (eol < 0) return null;
      const size = Number.parseInt(rest.toString('latin1', 0, eol).split(';')[0].trim(), 16);
      if (!Number.isInteger(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        // The last chunk, then trailer lines (ignored) up to an empty line.
        const trailers = rest.subarray(eol + 2);
        const complete = trailers.indexOf('\r\n') === 0 || trailers.indexOf('\r\n\r\n') >= 0;
        return complete ? { status, headers, body: Buffer.concat(chunks), close } : null;
      }
      if (rest.length < eol + 2 + size + 2) return null;
      chunks.push(rest.subarray(eol + 2, eol + 2 + size));
      rest = rest.subarray(eol + 2 + size + 2);
    }
  }
  if ('content-length' in headers) {
    const length = Number.parseInt(headers['content-length'], 10);
    if (!Number.isInteger(length) || length < 0) throw new Error('bad Content-Length');
    if (rest.length < length) return null;
    return { status, headers, body: Buffer.from(rest.subarray(0, length)), close };
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { status, headers, body: Buffer.alloc(0), close };
  }
  // No length: the body ends when the server closes the connection.
  return closed ? { status, headers, body: Buffer.from(rest), close: true } : null;
}

// How many bytes a response whose start is `buf` needs at least: head + Content-Length once
// the head is complete and says so, else one more than now.
function bytesNeeded(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return buf.length + 1;
  const head = buf.toString('latin1', 0, end);
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return buf.length + 1;
  const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  return m ? end + 4 + Number(m[1]) : buf.length + 1;
}

class RuntimeClient {
  constructor(endpoint) {
    const colon = endpoint.lastIndexOf(':');
    this.host = colon > 0 ? endpoint.slice(0, colon) : '127.0.0.1';
    this.port = Number.parseInt(endpoint.slice(colon + 1), 10);
    if (!Number.isInteger(this.port)) {
      throw new Error(`bad AWS_LAMBDA_RUNTIME_API '${endpoint}' (want host:port)`);
    }
    this.userAgent = `kindling-node/${process.versions.node}`;
    this.socket = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      // An idle connection the server closes must neither crash the process (an 'error'
      // without a listener throws) nor be reused.
      socket.on('error', () => {});
      socket.on('close', () => { if (this.socket === socket) this.socket = null; });
      const onError = (e) => { socket.destroy(); reject(e); };
      socket.once('error', onError);
      socket.once('connect', () => { socket.removeListener('error', onError); resolve(socket); });
    });
  }

  drop() {
    if (this.socket !== null) {
      this.socket.destroy();
      this.socket = null;
    }
  }

  // Resolves {status, headers, body: Buffer}; rejects on a transport failure. A kept-alive
  // connection the server closed fails on first use: retried once on a fresh connection.
  async request(method, urlPath, body, headers) {
    let head = `${method} ${urlPath} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n` +
      `User-Agent: ${this.userAgent}\r\n`;
    for (const [name, value] of Object.entries(headers || {})) head += `${name}: ${value}\r\n`;
    const payload = body === undefined ? undefined : Buffer.from(body);
    if (payload !== undefined) head += `Content-Length: ${payload.length}\r\n`;
    head += '\r\n';
    const data = payload === undefined ? Buffer.from(head, 'latin1')
      : Buffer.concat([Buffer.from(head, 'latin1'), payload]);
    for (let attempt = 0; ; attempt++) {
      const reused = this.socket !== null;
      if (!reused) this.socket = await this.connect();
      try {
        return await this.exchange(this.socket, data);
      } catch (e) {
        this.drop();
        if (!reused || attempt > 0 || !e.retryable) throw e;
      }
    }
  }

  exchange(socket, data) {
    return new Promise((resolve, reject) => {
      let buf = null;
      const done = () => {
        socket.removeListener('data', onData);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
      };
      const fail = (message, retryable) => {
        done();
        const e = new Error(message);
        e.retryable = retryable && buf === null;  // nothing of a response arrived yet
        reject(e);
      };
      const finish = (parsed) => {
        done();
        if (parsed.close) this.drop(); else socket.unref();
        resolve({ status: parsed.status, headers: parsed.headers, body: parsed.body });
      };
      // Chunks are joined only when a parse can succeed: a 6 MB event arrives in ~100 of them,
      // and joining at each would copy it ~50 times over.
      let chunks = [];
      let size = 0;
      let need = 0;
      const onData = (chunk) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size < need) return;
        buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
        chunks = [buf];
        let parsed;
        try {
          parsed = parseResponse(buf, false);
        } catch (e) {
          done();
          this.drop();
          reject(e);
          return;
        }
        if (parsed !== null) {
          finish(parsed);
          return;
        }
        need = bytesNeeded(buf);
      };
      const onError = (e) => fail(e.message, true);
      const onClose = () => {
        if (chunks.length > 1) buf = Buffer.concat(chunks, size);
        let parsed = null;
        try {
          parsed = buf === null ? null : parseResponse(buf, true);
        } catch (e) { /* reported below */ }
        if (parsed !== null) finish(parsed); else fail('connection closed before the response', true);
      };
      socket.on('data', onData);
      socket.on('error', onError);
      socket.on('close', onClose);
      socket.ref();
      socket.write(data);
    });
  }

  async nextInvocation() {
    const res = await this.request('GET', `${kApiPrefix}/invocation/next`);
    if (res.status !== 200) {
      throw new Error(`GET invocation/next answered ${res.status}: ${res.body.toString().slice(0, 200)}`);
    }
    return res;
  }

  async postResponse(requestId, payload) {
    const res = await this.request('POST',
      `${kApiPrefix}/invocation/${encodeURIComponent(requestId)}/response`, payload,
      { 'Content-Type': 'application/json' });
    if (res.status < 200 || res.status > 299) {
      throw new Error(`POST invocation/${requestId}/response answered ${res.status}`);
    }
  }

  async postError(requestId, error) {
    const rapid = toRapidResponse(error);
    const res = await this.request('POST',
      `${kApiPrefix}/invocation/${encodeURIComponent(requestId)}/error`, JSON.stringify(rapid),
      { 'Content-Type': 'application/json',
        'Lambda-Runtime-Function-Error-Type': headerSafe(rapid.errorType) });
    if (res.status < 200 || res.status > 299) {
      throw new Error(`POST invocation/${requestId}/error answered ${res.status}`);
    }
  }

  async postInitError(error) {
    const rapid = toRapidResponse(error);
    const res = await this.request('POST', `${kApiPrefix}/init/error`, JSON.stringify(rapid),
      { 'Content-Type': 'application/json',
        'Lambda-Runtime-Function-Error-Type': headerSafe(rapid.errorType) });
    if (res.status !== 202) throw new Error(`POST init/error answered ${res.status}`);
  }
}

function headerSafe(value) {
  // Header values must be visible ASCII; error types come from user code.
  return String(value).replace(/[^\x20-\x7E]/g, '?');
}

// ------------------------------------------------------------------------------ module paths / SDK

function layerAndSdkDirs() {
  return [
    path.join(optDir, 'nodejs', `node${kNodeMajor}`, 'node_modules'),
    path.join(optDir, 'nodejs', 'node_modules'),
    path.join(sdkDir, 'node_modules'),
  ];
}

// require(): NODE_PATH, as AWS's bootstrap sets it (unless the function set its own).
function setupRequirePaths(taskRoot) {
  if (process.env.NODE_PATH) return;
  process.env.NODE_PATH = [...layerAndSdkDirs(), taskRoot].join(path.delimiter);
  Module._initPaths(); // re-reads NODE_PATH into the CJS global search paths
}

const kBareSpecifier = /^(?![a-zA-Z][a-zA-Z0-9+.-]*:)(?![./])(?!#)/;
let esmHookState = 'none'; // 'none' | 'sync' | 'async'

// import(): a resolve hook that, when a bare specifier is not found from the importing file,
// retries from the layer and SDK directories (NODE_PATH does not apply to ES modules).
function setupImportResolution() {
  if (esmHookState !== 'none') return;
  // The engine made the SDK reachable by ES module resolution itself (a node_modules directory
  // above the task root) and the function has no layers: no hook is needed (on Node 20 the
  // hook costs a loader thread, ~45 ms of CPU per start, docs/runtimes.md).
  if (process.env.KINDLING_NODE_ESM_HOOK === '0') {
    esmHookState = 'sync';
    return;
  }
  const parents = layerAndSdkDirs()
    .filter((dir) => fs.existsSync(dir))
    .map((dir) => pathToFileURL(path.join(path.dirname(dir), 'noop.mjs')).href);
  if (parents.length === 0) {
    esmHookState = 'sync';
    return;
  }
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({
      resolve(specifier, context, nextResolve) {
        try {
          return nextResolve(specifier, context);
        } catch (error) {
          if (error && error.code === 'ERR_MODULE_NOT_FOUND' && kBareSpecifier.test(specifier)) {
            for (const parentURL of parents) {
              try {
                return nextResolve(specifier, { ...context, parentURL });
              } catch (_) { /* try the next directory */ }
            }
          }
          throw error;
        }
      },
    });
    esmHookState = 'sync';
  } else {
    Module.register(pathToFileURL(path.join(runtimeDir, 'resolve_hook.mjs')).href,
      { data: { parents } });
    esmHookState = 'async';
  }
}

// ------------------------------------------------------------------------------ handler loading

function nearestPackageJsonIsModule(file) {
  let dir = path.dirname(file);
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    let text;
    try {
      text = fs.readFileSync(candidate, 'utf8');
    } catch (_) {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return JSON.parse(text).type === 'module';
      } catch (_) {
        return false;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

function fileExists(file) {
  try {
    return fs.statSync(file).isFile();
  } catch (_) {
    return false;
  }
}

async function importModule(file) {
  setupImportResolution();
  const url = pathToFileURL(file).href;
  // Code deserialised from a snapshot has no import() callback: a file loaded at run time does.
  if (fromSnapshot) return userRequire(path.join(runtimeDir, 'esm_import.cjs'))(url);
  return import(url);
}

// Same search order as AWS: extensionless (require), .js (require unless "type":"module"),
// then .js as ESM, .mjs, .cjs, and finally a node_modules-style resolution of the name.
async function loadModule(appRoot, moduleRoot, moduleName) {
  const base = path.resolve(appRoot, moduleRoot, moduleName);
  if (fileExists(base)) return userRequire(base);
  const isModule = nearestPackageJsonIsModule(base);
  if (!isModule && fileExists(base + '.js')) return userRequire(base + '.js');
  if (isModule && fileExists(base + '.js')) return importModule(base + '.js');
  if (fileExists(base + '.mjs')) return importModule(base + '.mjs');
  if (fileExists(base + '.cjs')) return userRequire(base + '.cjs');
  const resolved = userRequire.resolve(moduleName,
    { paths: [path.resolve(appRoot, moduleRoot), appRoot] });
  return userRequire(resolved);
}

async function loadHandler(appRoot, fullHandler) {
  const handlerString = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.length - handlerString.length);
  const match = /^([^.]*)\.(.*)$/.exec(handlerString);
  if (!match || match[1] === '' || match[2] === '') {
    throw new RuntimeError('Runtime.MalformedHandlerName', 'Bad handler');
  }
  const [, moduleName, handlerPath] = match;
  let loaded;
  try {
    loaded = await loadModule(appRoot, moduleRoot, moduleName);
  } catch (error) {
    if (error instanceof SyntaxError) {
      const wrapped = new RuntimeError('Runtime.UserCodeSyntaxError', String(error));
      wrapped.stack = `Runtime.UserCodeSyntaxError: ${error.stack}`;
      throw wrapped;
    }
    if (error && error.code === 'MODULE_NOT_FOUND') {
      const wrapped = new RuntimeError('Runtime.ImportModuleError', String(error));
      wrapped.stack = `Runtime.ImportModuleError: ${error.stack}`;
      throw wrapped;
    }
    throw error;
  }
  const handler = handlerPath.split('.').reduce(
    (object, key) => (object === undefined || object === null ? undefined : object[key]), loaded);
  if (handler === undefined || handler === null) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${fullHandler} is not a function`);
  }
  return handler;
}

// ------------------------------------------------------------------------------ invoke loop

let beforeExitAction = null; // run once when the event loop drains (callback semantics)
let activeInvoke = null; // {requestId} while a handler runs
let initDone = false;

function parseJsonHeader(value, what) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new RuntimeError('Runtime.LambdaContextUnmarshalError',
      `Unable to parse ${what}: ${error.message}`);
  }
}

function serializeResult(result) {
  const text = JSON.stringify(result);
  return text === undefined ? 'null' : text;
}

// Runs one invocation; resolves once its result or error has been posted.
function invokeOnce(client, handler, res) {
  return new Promise((resolveInvoke) => {
    const headers = res.headers;
    const requestId = headers['lambda-runtime-aws-request-id'];
    if (typeof requestId !== 'string' || requestId === '') {
      throw new Error('invocation id is missing or invalid');
    }
    currentRequestId = requestId;
    activeInvoke = { requestId };
    const traceId = headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;

    let completed = false;
    const state = { waits: true };
    const finish = (error, result) => {
      if (completed) return;
      completed = true;
      beforeExitAction = null;
      let post;
      if (error !== undefined && error !== null) {
        console.error('Invoke Error', toFormatted(error));
        post = client.postError(requestId, error);
      } else {
        let payload;
        try {
          payload = serializeResult(result);
        } catch (serializeError) {
          console.error('Invoke Error', toFormatted(serializeError));
          post = client.postError(requestId, serializeError);
        }
        if (payload !== undefined) post = client.postResponse(requestId, payload);
      }
      post.then(() => {
        activeInvoke = null;
        resolveInvoke();
      }, (postError) => {
        process.stderr.write(`kindling runtime: ${postError.message}; exiting\n`);
        process.exit(1);
      });
    };
    const callback = (error, result) => {
      if (completed) return;
      if (state.waits) {
        beforeExitAction = () => finish(error, result);
      } else {
        finish(error, result);
      }
    };
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    const env = process.env;
    // If the handler neither returns a promise nor calls back and the loop drains: null result.
    beforeExitAction = () => finish(null, null);
    try {
      const context = {
        get callbackWaitsForEmptyEventLoop() { return state.waits; },
        set callbackWaitsForEmptyEventLoop(value) { state.waits = value; },
        succeed: (result) => finish(null, result),
        fail: (error) => finish(error === undefined || error === null ? 'handled' : error),
        done: (error, result) => finish(error, result),
        functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
        clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'client context'),
        identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'cognito identity'),
        invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: requestId,
        tenantId: headers['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis: () => deadline - Date.now(),
      };
      const event = JSON.parse(res.body.toString('utf8'));
      const returned = handler(event, context, callback);
      if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
        returned.then((result) => finish(null, result), (error) => finish(error ?? 'handled'));
      }
      // Otherwise, as on AWS, a non-promise return value is ignored: the invocation ends when
      // the callback is called, or with a null result once the event loop drains.
    } catch (error) {
      finish(error);
    }
  });
}

function installProcessHandlers(client) {
  process.on('beforeExit', () => {
    const action = beforeExitAction;
    beforeExitAction = null;
    if (action) action();
  });
  const fatal = (error, label, exitCode) => {
    console.error(label, toFormatted(error));
    let post;
    if (activeInvoke) post = client.postError(activeInvoke.requestId, error);
    else if (!initDone) post = client.postInitError(error);
    else post = Promise.resolve();
    post.catch(() => {}).finally(() => process.exit(exitCode));
  };
  process.on('uncaughtException', (error) => {
    fatal(error, 'Uncaught Exception', kExitUncaughtException);
  });
  process.on('unhandledRejection', (reason) => {
    const error = new RuntimeError('Runtime.UnhandledPromiseRejection', String(
      reason instanceof Error ? `${reason.name}: ${reason.message}` : reason));
    error.reason = reason;
    fatal(error, 'Unhandled Promise Rejection', kExitUnhandledRejection);
  });
}

// The global gc() of --expose-gc, for processes started without that flag: the first call sets
// the flag and takes gc from a new context (V8 installs it in contexts created once the flag
// is on); gc is isolate-wide, so calling it there collects everything. From then on the process
// runs as if started with the flag (built-ins loaded later compile without Node's code cache).
function installLazyGc() {
  if (globalThis.gc !== undefined) return; // started with --expose-gc (e.g. in NODE_OPTIONS)
  let realGc;
  Object.defineProperty(globalThis, 'gc', {
    value: function gc(...args) {
      if (realGc === undefined) {
        require('node:v8').setFlagsFromString('--expose-gc');
        realGc = require('node:vm').runInNewContext('gc');
      }
      return realGc(...args);
    },
    writable: true, enumerable: true, configurable: false, // as --expose-gc defines it
  });
}

async function main() {
  sdkDir = process.env.KINDLING_NODE_SDK_DIR || sdkDir;
  optDir = process.env.KINDLING_OPT_DIR || optDir;
  installLazyGc();
  patchConsole();
  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  // From a snapshot there is no script argument: the handler, if given, is the first.
  const handlerName = process.argv[fromSnapshot ? 1 : 2] || process.env._HANDLER || '';
  let client;
  try {
    client = new RuntimeClient(process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001');
  } catch (error) {
    process.stderr.write(`kindling runtime: ${error.message}\n`);
    process.exit(1);
  }
  installProcessHandlers(client);
  setupRequirePaths(appRoot);
  let handler;
  try {
    handler = await loadHandler(appRoot, handlerName);
  } catch (error) {
    console.error('Uncaught Exception', toFormatted(error));
    try {
      await client.postInitError(error);
    } catch (postError) {
      process.stderr.write(`kindling runtime: reporting the init error failed: ${postError.message}\n`);
    }
    process.exit(kExitUncaughtException);
  }
  initDone = true;
  for (;;) {
    let res;
    try {
      res = await client.nextInvocation();
    } catch (error) {
      process.stderr.write(`kindling runtime: ${error.message}; exiting\n`);
      process.exit(1);
    }
    await invokeOnce(client, handler, res);
  }
}

// The entry of a process started from a snapshot of this file.
function snapshotMain() {
  fromSnapshot = true;
  runtimeDir = process.env.LAMBDA_RUNTIME_DIR || runtimeDir;
  Module = require('node:module');
  userRequire = Module.createRequire(path.join(runtimeDir, 'bootstrap.cjs'));
  return main();
}

if (kBuildingSnapshot) v8.startupSnapshot.setDeserializeMainFunction(snapshotMain);
else main();
