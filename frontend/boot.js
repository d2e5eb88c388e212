// Starts the wasm UI. A file rather than an inline script, so the Content-Security-Policy
// can say `script-src 'self'`; scripts/build-frontend.sh fills in the content hashes.
import init from '/hakobu_frontend.js?v={{JS_HASH}}';
init({ module_or_path: '/hakobu_frontend_bg.wasm?v={{WASM_HASH}}' });
