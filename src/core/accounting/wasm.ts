/**
 * A very small WebAssembly assembler: just what the edge log kernel uses
 * (one function, its own memory, mutable globals, i32/i64/f64 and four
 * SIMD instructions). Code is written as a tree of instructions whose
 * branches name their target block, so no branch depth is counted by hand.
 * Encoding per the WebAssembly core specification 2.0 (binary format).
 */

export type ValType = 'i32' | 'i64' | 'f64' | 'v128';
const VALTYPE: Record<ValType, number> = { i32: 0x7f, i64: 0x7e, f64: 0x7c, v128: 0x7b };

/** An instruction: raw bytes, or a structured one. */
export type Instr =
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'block' | 'loop'; label: string; body: Instr[] }
  | { kind: 'if'; label: string; then: Instr[]; else?: Instr[] }
  | { kind: 'br' | 'br_if'; label: string };

const raw = (...bytes: number[]): Instr => ({ kind: 'bytes', bytes });

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: bigint): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Structured control: `block`, `loop` and `if` take a label that `br`/`br_if` name. */
export const block = (label: string, ...body: Instr[]): Instr => ({ kind: 'block', label, body });
export const loop = (label: string, ...body: Instr[]): Instr => ({ kind: 'loop', label, body });
export const iff = (label: string, then: Instr[], otherwise?: Instr[]): Instr => ({ kind: 'if', label, then, ...(otherwise ? { else: otherwise } : {}) });
export const br = (label: string): Instr => ({ kind: 'br', label });
export const brIf = (label: string): Instr => ({ kind: 'br_if', label });
export const ret = raw(0x0f);
export const drop = raw(0x1a);
/** `a b cond select`: a when cond is not 0, else b. */
export const select = raw(0x1b);

export const get = (local: number): Instr => raw(0x20, ...uleb(local));
export const set = (local: number): Instr => raw(0x21, ...uleb(local));
export const tee = (local: number): Instr => raw(0x22, ...uleb(local));
export const globalGet = (global: number): Instr => raw(0x23, ...uleb(global));
export const globalSet = (global: number): Instr => raw(0x24, ...uleb(global));

const memarg = (align: number, offset: number): number[] => [...uleb(align), ...uleb(offset)];
export const i32 = {
  const: (v: number): Instr => raw(0x41, ...sleb(BigInt(v | 0))),
  load: (offset = 0): Instr => raw(0x28, ...memarg(2, offset)),
  load8u: (offset = 0): Instr => raw(0x2d, ...memarg(0, offset)),
  store: (offset = 0): Instr => raw(0x36, ...memarg(2, offset)),
  store8: (offset = 0): Instr => raw(0x3a, ...memarg(0, offset)),
  eqz: raw(0x45), eq: raw(0x46), ne: raw(0x47), ltS: raw(0x48), ltU: raw(0x49), gtU: raw(0x4b), leU: raw(0x4d), geS: raw(0x4e), geU: raw(0x4f),
  ctz: raw(0x68), add: raw(0x6a), sub: raw(0x6b), mul: raw(0x6c), and: raw(0x71), or: raw(0x72), xor: raw(0x73), shl: raw(0x74), shrU: raw(0x76),
  wrapI64: raw(0xa7),
};
export const i64 = {
  const: (v: bigint): Instr => raw(0x42, ...sleb(v)),
  load: (offset = 0): Instr => raw(0x29, ...memarg(0, offset)),
  store: (offset = 0): Instr => raw(0x37, ...memarg(3, offset)),
  eq: raw(0x51), ne: raw(0x52), ltU: raw(0x54), ctz: raw(0x7a), add: raw(0x7c), sub: raw(0x7d), mul: raw(0x7e), divU: raw(0x80), and: raw(0x83), or: raw(0x84), xor: raw(0x85), shl: raw(0x86), shrU: raw(0x88),
  extendI32U: raw(0xad),
};
export const f64 = {
  const: (v: number): Instr => raw(0x44, ...new Uint8Array(new Float64Array([v]).buffer)),
  load: (offset = 0): Instr => raw(0x2b, ...memarg(3, offset)),
  store: (offset = 0): Instr => raw(0x39, ...memarg(3, offset)),
  add: raw(0xa0),
  /** Signed: one instruction on x86-64 (the unsigned one takes several); the kernel's numbers are below 2^63. */
  convertI64S: raw(0xb9),
};
export const v128 = {
  load: (offset = 0): Instr => raw(0xfd, ...uleb(0x00), ...memarg(0, offset)),
  i8x16Splat: raw(0xfd, ...uleb(0x0f)),
  i8x16Eq: raw(0xfd, ...uleb(0x23)),
  i8x16Bitmask: raw(0xfd, ...uleb(0x64)),
  or: raw(0xfd, ...uleb(0x50)),
  anyTrue: raw(0xfd, ...uleb(0x53)),
};

function emit(code: Instr[], labels: string[], out: number[]): void {
  for (const instr of code) {
    switch (instr.kind) {
      case 'bytes':
        out.push(...instr.bytes);
        break;
      case 'block':
      case 'loop':
        out.push(instr.kind === 'block' ? 0x02 : 0x03, 0x40);
        emit(instr.body, [instr.label, ...labels], out);
        out.push(0x0b);
        break;
      case 'if':
        out.push(0x04, 0x40);
        emit(instr.then, [instr.label, ...labels], out);
        if (instr.else) {
          out.push(0x05);
          emit(instr.else, [instr.label, ...labels], out);
        }
        out.push(0x0b);
        break;
      case 'br':
      case 'br_if': {
        const depth = labels.indexOf(instr.label);
        if (depth < 0) throw new Error(`wasm: branch to ${instr.label}, which does not enclose it`);
        out.push(instr.kind === 'br' ? 0x0c : 0x0d, ...uleb(depth));
        break;
      }
    }
  }
}

export interface WasmFunction {
  name: string;
  params: ValType[];
  results: ValType[];
  /** Locals after the parameters, in order. */
  locals: ValType[];
  body: Instr[];
}

export interface WasmModule {
  /** Pages of 64 KiB. */
  memoryPages: number;
  /** Mutable i32 globals, exported under these names, starting at 0. */
  globals: string[];
  functions: WasmFunction[];
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (text: string): number[] => vec([...new TextEncoder().encode(text)].map((b) => [b]));
const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];

/** The module's binary: its memory exported as `memory`, each global and function under its name. */
export function assemble(module: WasmModule): Uint8Array {
  const types = module.functions.map((f) => [0x60, ...vec(f.params.map((t) => [VALTYPE[t]])), ...vec(f.results.map((t) => [VALTYPE[t]]))]);
  const bodies = module.functions.map((f) => {
    const locals = vec(f.locals.map((t) => [1, VALTYPE[t]]));
    const code: number[] = [];
    emit(f.body, [], code);
    const body = [...locals, ...code, 0x0b];
    return [...uleb(body.length), ...body];
  });
  const exports = [
    [...name('memory'), 0x02, 0],
    ...module.globals.map((g, i) => [...name(g), 0x03, ...uleb(i)]),
    ...module.functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(module.functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(module.memoryPages)]])),
    ...section(6, vec(module.globals.map(() => [VALTYPE.i32, 0x01, 0x41, 0x00, 0x0b]))),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}
