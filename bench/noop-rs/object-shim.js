// A worker-build CUSTOM_SHIM: the wasm-bindgen glue exported as a plain
// module-worker object. Unlike worker-build 0.8.7's default shim, it has no
// WorkerEntrypoint class and no per-request Proxy objects, and (the price)
// none of the default shim's recovery after a panic. bench/run.mjs builds the
// no-op crate with it to show what that wrapping costs per request.
import * as imports from "./index_bg.js";
import wasmModule from "./index.wasm";
$SNIPPET_JS_IMPORTS

const instance = new WebAssembly.Instance(wasmModule, {
	"./index_bg.js": imports,
	$SNIPPET_WASM_IMPORTS
});
imports.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start?.();

export default {
	fetch(request, env, ctx) {
		return imports.fetch(request, env, ctx);
	},
};
