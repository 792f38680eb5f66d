/**
 * The part of the WebAssembly JavaScript API that provcheck uses (src/engine/wasm-kernels.ts,
 * which loads the kernel and the replay). Node has the API built in, but @types/node 20 does
 * not declare it (TypeScript's own declaration lives in the DOM library).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  }
}
