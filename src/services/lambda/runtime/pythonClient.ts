/**
 * The Python runtime client opsbox starts as a python3.x function's execution environment: it
 * imports `module.function` from LAMBDA_TASK_ROOT as Lambda's Python runtime does and loops on the
 * Runtime API. Kept as text here and written to the data dir at start, since the compiled tree
 * carries only JavaScript.
 */
export const PYTHON_CLIENT = String.raw`
import importlib, json, os, sys, time, traceback, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

def call(method, path, body=None):
    req = urllib.request.Request(API + path, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as res:
        return res.status, dict(res.headers), res.read()

def error_of(e, type_name=None):
    return {
        "errorMessage": str(e),
        "errorType": type_name or type(e).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(e.__traceback__),
    }

class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self._deadline = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
    def get_remaining_time_in_millis(self):
        return max(0, self._deadline - int(time.time() * 1000))

def load():
    spec = os.environ.get("_HANDLER", "")
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError("Bad handler '%s': not enough values to unpack (expected 2, got 1)" % spec)
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        e.lambda_type = "Runtime.ImportModuleError"
        raise
    handler = getattr(module, function_name, None)
    if handler is None:
        err = AttributeError("Handler '%s' missing on module '%s'" % (function_name, module_name))
        err.lambda_type = "Runtime.HandlerNotFound"
        raise err
    return handler

def main():
    try:
        handler = load()
    except Exception as e:
        err = error_of(e, getattr(e, "lambda_type", None))
        print("[ERROR] %s: %s" % (err["errorType"], err["errorMessage"]), flush=True)
        call("POST", "/init/error", json.dumps(err).encode())
        sys.exit(1)
    while True:
        _, headers, body = call("GET", "/invocation/next")
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        try:
            event = json.loads(body) if body else {}
            result = handler(event, Context(headers))
            call("POST", "/invocation/%s/response" % request_id, json.dumps(result).encode())
        except Exception as e:
            err = error_of(e)
            print("[ERROR] %s: %s" % (err["errorType"], err["errorMessage"]), flush=True)
            call("POST", "/invocation/%s/error" % request_id, json.dumps(err).encode())
        sys.stdout.flush()

main()
`;
