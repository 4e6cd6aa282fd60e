# kindling Python runtime entry point (Python 3.9-3.13, standard library only).
#
# This file is a deliberately tiny shim: CPython never caches the bytecode of the script it is
# started with, but it does cache imported modules, so the real runtime lives in
# _kindling_runtime.py next to this file and its .pyc is reused on every cold start.
# Launch: <python> -S -s <LAMBDA_RUNTIME_DIR>/bootstrap.py [handler]   (handler defaults to $_HANDLER)
import sys

import _kindling_runtime

if __name__ == "__main__":
    sys.exit(_kindling_runtime.main(sys.argv))
