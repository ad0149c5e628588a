import {
  assemble, block, br, brIf, f64, get, globalGet, globalSet, i32, i64, iff, loop, ret, select, set, tee, v128, type Instr,
} from './wasm.js';

/**
 * The edge log's inner loop, in WebAssembly. Per line: the five fields
 * accounting reads, the instance name turned into a small number through a
 * dictionary that compares bytes (a hash alone could be made to collide by
 * naming an app), the sums of its instance and hour added to, and the end
 * of the line found 32 bytes at a time (SIMD). In plain JavaScript, finding
 * the end of each ~240-byte line alone costs about 100 ns (a native call
 * per line, or a loop per byte); here a whole line costs 30 to 50 ns.
 *
 * A well-formed line takes the fast path: fields found from vector masks
 * of spaces, the time read 8 digits at a time, the line read once. Any
 * surprise (a short line, a newline among the fields, an odd byte, the end
 * of the input near) sends the line to the slow path, which finds the
 * line's end first and reads it byte by byte: it alone decides what is
 * malformed, so both paths agree by construction.
 */

export const DICT_SLOTS = 8192;
/** Distinct instance names one parser can tell apart; lines of more are counted as overflow. */
export const MAX_IDS = 4096;
const STORE_STRIDE = 96;
/** The longest instance name: 40 + `_` + 40. */
export const MAX_IDENT = 81;
/** Instance-hours summed in the kernel before the caller must take them out (drain). */
export const MAX_SLOTS = 16384;
const HOUR_TABLE = 32768;
/** Per slot: requests, bytes in, bytes out, then requests per status class (1xx to 5xx, other). */
export const SLOT_VALUES = 9;
export const WINDOW = 1024 * 1024;
const WINDOW_PAD = 256;

/** Memory layout (byte offsets). */
export const LAYOUT = (() => {
  const charClass = 0; // 256 bytes: 1 for the bytes a name may hold (a-z 0-9 _ -)
  const dict = 1024; // DICT_SLOTS x (hash i32, id + 1 i32; 0 = empty)
  const index = dict + DICT_SLOTS * 8; // per id: length i32, valid i32
  const store = index + MAX_IDS * 8; // per id: the name's bytes, STORE_STRIDE apart
  const current = store + MAX_IDS * STORE_STRIDE; // per id: the hour of its last line i32, its slot i32
  const hours = current + MAX_IDS * 8; // HOUR_TABLE x (key + 1 i64, slot i32, unused i32); key = hour << 12 | id
  const slotKeys = hours + HOUR_TABLE * 16; // per slot: id i32, hour i32
  const sums = slotKeys + MAX_SLOTS * 8; // per slot: SLOT_VALUES f64
  const input = Math.ceil((sums + MAX_SLOTS * SLOT_VALUES * 8) / 65536) * 65536; // WINDOW bytes, then WINDOW_PAD that loads may read
  return { charClass, dict, index, store, current, hours, slotKeys, sums, input, end: input + WINDOW + WINDOW_PAD };
})();

// Parameters, then locals, by index.
const START = 0, END = 1, FINAL = 2;
const LS = 3, P = 4, NL = 5, M = 6, MN = 7, C = 8, H = 9, ISTART = 10, ILEN = 11, ST = 12, CLS = 13, ID = 14, SLOT = 15, A = 16, K = 17,
  SID = 18, E = 19, HR = 20, LINES = 21, N = 22;
const T = 23, VIN = 24, VOUT = 25, X = 26, Y = 27, HS = 28, HS2 = 29;
const NLV = 30, SPV = 31, V1 = 32, V2 = 33, V3 = 34, V4 = 35;
const I32_LOCALS = N - FINAL, I64_LOCALS = 7, V128_LOCALS = 6;
// Globals, exported under these names.
export const GLOBALS = ['consumed', 'ids', 'slots', 'malformed', 'overflow', 'full'] as const;
const CONSUMED = 0, IDS = 1, SLOTS = 2, MALFORMED = 3, OVERFLOW = 4, FULL = 5;

const u64 = (v: bigint): Instr => i64.const(BigInt.asIntN(64, v));
const ONES = 0x0101010101010101n;

/** `if (cond) br label`, the kernel's most common shape. */
const when = (cond: Instr[], label: string): Instr[] => [...cond, brIf(label)];
const inc = (local: number, by = 1): Instr[] => [get(local), i32.const(by), i32.add, set(local)];
const incGlobal = (global: number): Instr[] => [globalGet(global), i32.const(1), i32.add, globalSet(global)];
/** Address of name `id`'s bytes. */
const stored = (id: number): Instr[] => [get(id), i32.const(STORE_STRIDE), i32.mul, i32.const(LAYOUT.store), i32.add];
/** Address of name `id`'s index entry: length (i32), valid (i32). */
const indexed = (id: number): Instr[] => [get(id), i32.const(3), i32.shl, i32.const(LAYOUT.index), i32.add];
/** `(1 << 8 * bytes) - 1` as i64, for 0 to 7 bytes. */
const byteMask = (bytes: Instr[]): Instr[] => [i64.const(1n), ...bytes, i32.const(3), i32.shl, i64.extendI32U, i64.shl, i64.const(1n), i64.sub];
/** The 32-bit mask of bytes equal to the splat in `vector` at [at, at + 32). */
const mask32 = (at: number, vector: number): Instr[] => [
  get(at), v128.load(), get(vector), v128.i8x16Eq, v128.i8x16Bitmask,
  get(at), v128.load(16), get(vector), v128.i8x16Eq, v128.i8x16Bitmask, i32.const(16), i32.shl,
  i32.or,
];

/** The 32-bit mask of equal bytes of [a, a + 32) and [b, b + 32), `b` an address expression. */
const mask32Of = (a: number, b: Instr[]): Instr[] => [
  get(a), v128.load(), ...b, v128.load(), v128.i8x16Eq, v128.i8x16Bitmask,
  get(a), v128.load(16), ...b, v128.load(16), v128.i8x16Eq, v128.i8x16Bitmask, i32.const(16), i32.shl,
  i32.or,
];

/**
 * NL = the first newline at or after `from`, 64 bytes at a time; END when
 * there is none before END (a newline found in the padding past END is
 * none).
 */
function findNewline(from: number, label: string): Instr[] {
  const eq = (offset: number, into: number): Instr[] => [get(P), v128.load(offset), get(NLV), v128.i8x16Eq, tee(into)];
  /** Vector `v`'s newline bits, at bit `at` of a 64-bit mask. */
  const bits = (v: number, at: bigint): Instr[] => [get(v), v128.i8x16Bitmask, i64.extendI32U, ...(at ? [i64.const(at), i64.shl] : [])];
  return [
    get(from), set(P),
    block(`${label}-found`,
      loop(`${label}-scan`,
        ...eq(0, V1), ...eq(16, V2), v128.or, ...eq(32, V3), ...eq(48, V4), v128.or, v128.or, v128.anyTrue,
        iff(`${label}-hit`, [
          // Where in the 64 bytes, without a branch on which vector has it.
          get(P), ...bits(V1, 0n), ...bits(V2, 16n), i64.or, ...bits(V3, 32n), i64.or, ...bits(V4, 48n), i64.or, i64.ctz, i32.wrapI64, i32.add, set(NL),
          get(NL), get(END), i32.gtU,
          iff(`${label}-past`, [get(END), set(NL)]),
          br(`${label}-found`),
        ]),
        ...inc(P, 64),
        ...when([get(P), get(END), i32.ltU], `${label}-scan`),
        get(END), set(NL),
      ),
    ),
  ];
}

/**
 * A number of 1 to 8 digits at `at` (`length` of them) into i64 local
 * `into`, without a branch per digit: the 8 bytes that end with it are
 * loaded, the bytes before it masked to zero (leading zeros), the digits
 * checked and combined pairwise. A non-digit branches to `slow`.
 */
function eightDigits(into: number, at: Instr[], length: Instr[]): Instr[] {
  const junk = (): Instr[] => [i64.const(-1n), i32.const(8), ...length, i32.sub, i32.const(3), i32.shl, i64.extendI32U, i64.shl];
  return [
    ...at, ...length, i32.add, i32.const(8), i32.sub, i64.load(), ...junk(), i64.and, tee(X),
    // Digit bytes are 0x30 to 0x39: high nibble 3, and still 3 after adding 6.
    ...junk(), tee(Y), u64(0xf0n * ONES), i64.and, set(HS2),
    get(X), u64(0xf0n * ONES), i64.and, get(HS2), u64(0x30n * ONES), i64.and, i64.ne, brIf('slow'),
    get(X), get(Y), u64(0x06n * ONES), i64.and, i64.add, u64(0xf0n * ONES), i64.and, get(Y), u64(0x30n * ONES), i64.and, i64.ne, brIf('slow'),
    get(X), get(Y), u64(0x30n * ONES), i64.and, i64.sub, tee(X),
    i64.const(10n), i64.mul, get(X), i64.const(8n), i64.shrU, i64.add, u64(0x00ff00ff00ff00ffn), i64.and,
    i64.const(1n + (100n << 16n)), i64.mul, i64.const(16n), i64.shrU, u64(0x0000ffff0000ffffn), i64.and,
    i64.const(1n + (10000n << 32n)), i64.mul, i64.const(32n), i64.shrU, set(into),
  ];
}

/** Reads a number of at most `max` digits at P, bounded by NL, into i64 `into`; stops at a space (or at NL when `atEnd`). */
function digits(into: number, max: number, atEnd: boolean, label: string): Instr[] {
  return [
    i64.const(0n), set(into),
    i32.const(0), set(N),
    block(`${label}-end`,
      loop(`${label}-loop`,
        ...when([get(P), get(NL), i32.geU], atEnd ? `${label}-end` : 'bad'),
        get(P), i32.load8u(), tee(C),
        i32.const(32), i32.eq, brIf(`${label}-end`),
        ...when([get(C), i32.const(48), i32.sub, tee(C), i32.const(9), i32.gtU], 'bad'),
        get(into), i64.const(10n), i64.mul, get(C), i64.extendI32U, i64.add, set(into),
        ...inc(P),
        ...inc(N),
        ...when([get(N), i32.const(max), i32.gtU], 'bad'),
        br(`${label}-loop`),
      ),
    ),
    ...when([get(N), i32.eqz], 'bad'),
  ];
}

/** The three status digits at P into ST, the first into CLS; a non-digit branches to `fail`. */
const status = (fail: string): Instr[] => [
  ...when([get(P), i32.load8u(0), i32.const(48), i32.sub, tee(CLS), i32.const(9), i32.gtU], fail),
  ...when([get(P), i32.load8u(1), i32.const(48), i32.sub, tee(C), i32.const(9), i32.gtU], fail),
  get(CLS), i32.const(10), i32.mul, get(C), i32.add, set(ST),
  ...when([get(P), i32.load8u(2), i32.const(48), i32.sub, tee(C), i32.const(9), i32.gtU], fail),
  get(ST), i32.const(10), i32.mul, get(C), i32.add, set(ST),
];

/**
 * The fast path, for a line at LS with at least 256 bytes of input after
 * it: any surprise branches to `slow`, which reads the line again. On
 * success NL is the line's end (END when the input ends first: then the
 * line is incomplete).
 */
const fast: Instr[] = [
  ...when([get(LS), i32.const(256), i32.add, get(END), i32.gtU], 'slow'),
  // The time: ten digits and a space, eight digits from one 64-bit load (checked, then combined pairwise).
  ...when([get(LS), i32.load8u(10), i32.const(32), i32.ne], 'slow'),
  get(LS), i64.load(), tee(X),
  u64(0xf0n * ONES), i64.and, u64(0x30n * ONES), i64.ne, brIf('slow'),
  get(X), u64(0x06n * ONES), i64.add, u64(0xf0n * ONES), i64.and, u64(0x30n * ONES), i64.ne, brIf('slow'),
  get(X), u64(0x30n * ONES), i64.sub, tee(X),
  i64.const(10n), i64.mul, get(X), i64.const(8n), i64.shrU, i64.add, u64(0x00ff00ff00ff00ffn), i64.and,
  i64.const(1n + (100n << 16n)), i64.mul, i64.const(16n), i64.shrU, u64(0x0000ffff0000ffffn), i64.and,
  i64.const(1n + (10000n << 32n)), i64.mul, i64.const(32n), i64.shrU,
  i64.const(100n), i64.mul, set(T),
  ...when([get(LS), i32.load8u(8), i32.const(48), i32.sub, tee(C), i32.const(9), i32.gtU], 'slow'),
  get(T), get(C), i32.const(10), i32.mul, i64.extendI32U, i64.add, set(T),
  ...when([get(LS), i32.load8u(9), i32.const(48), i32.sub, tee(C), i32.const(9), i32.gtU], 'slow'),
  get(T), get(C), i64.extendI32U, i64.add, set(T),
  // The name: up to the first space, with no newline before it, 1 to MAX_IDENT bytes.
  get(LS), i32.const(11), i32.add, tee(ISTART), set(P),
  block('fast-ident-end',
    loop('fast-ident',
      ...mask32(P, SPV), set(M),
      ...mask32(P, NLV), set(MN),
      get(M), get(MN), i32.or,
      iff('fast-ident-hit', [
        // The newline comes first, or a space does.
        ...when([get(MN), get(M), get(M), i32.const(1), i32.sub, i32.xor, i32.and], 'slow'),
        get(P), get(M), i32.ctz, i32.add, set(P),
        br('fast-ident-end'),
      ]),
      ...inc(P, 32),
      ...when([get(P), get(ISTART), i32.sub, i32.const(MAX_IDENT), i32.gtU], 'slow'),
      br('fast-ident'),
    ),
  ),
  get(P), get(ISTART), i32.sub, tee(ILEN),
  i32.eqz, brIf('slow'),
  ...when([get(ILEN), i32.const(MAX_IDENT), i32.gtU], 'slow'),
  ...inc(P),
  // Status: three digits and a space.
  ...status('slow'),
  ...when([get(P), i32.load8u(3), i32.const(32), i32.ne], 'slow'),
  ...inc(P, 4),
  // Bytes in and out: both ends from the spaces of the next 32 bytes; a newline before the second space is a surprise.
  ...mask32(P, SPV), set(M),
  ...mask32(P, NLV), set(MN),
  get(M), i32.ctz, set(A),
  get(M), get(M), i32.const(1), i32.sub, i32.and, tee(M), i32.eqz, brIf('slow'),
  get(M), i32.ctz, set(SLOT),
  ...when([get(MN), get(M), get(M), i32.const(1), i32.sub, i32.xor, i32.and], 'slow'),
  // Both 1 to 8 digits (up to 99 MB): read branch-free; longer ones by the slow path.
  ...when([get(A), i32.const(1), i32.sub, i32.const(8), i32.geU], 'slow'),
  ...when([get(SLOT), get(A), i32.sub, i32.const(2), i32.sub, i32.const(8), i32.geU], 'slow'),
  ...eightDigits(VIN, [get(P)], [get(A)]),
  ...eightDigits(VOUT, [get(P), get(A), i32.add, i32.const(1), i32.add], [get(SLOT), get(A), i32.sub, i32.const(1), i32.sub]),
  // The rest of the line is not ours to read: its end is.
  get(P), get(SLOT), i32.add, set(A),
  ...findNewline(A, 'fast'),
];

/** The slow path: the line's end first, then each field byte by byte, bounded by it. */
const slow: Instr[] = [
  ...findNewline(LS, 'slow'),
  get(LS), set(P),
  ...digits(T, 12, false, 'time'),
  ...inc(P),
  get(P), set(ISTART),
  block('ident-end',
    loop('ident',
      ...when([get(P), get(NL), i32.geU], 'bad'),
      get(P), i32.load8u(), i32.const(32), i32.eq, brIf('ident-end'),
      ...inc(P),
      br('ident'),
    ),
  ),
  get(P), get(ISTART), i32.sub, tee(ILEN),
  i32.eqz, brIf('bad'),
  ...when([get(ILEN), i32.const(MAX_IDENT), i32.gtU], 'bad'),
  ...inc(P),
  ...when([get(P), i32.const(3), i32.add, get(NL), i32.geU], 'bad'),
  ...status('bad'),
  ...when([get(P), i32.load8u(3), i32.const(32), i32.ne], 'bad'),
  ...inc(P, 4),
  ...digits(VIN, 15, false, 'in'),
  ...inc(P),
  ...digits(VOUT, 15, true, 'out'),
];

/**
 * ID = the id of the name at ISTART/ILEN, hashed from its first and last
 * 8 bytes and compared whole. A new name is checked once (a-z 0-9 _ -) and
 * kept, valid or not, so a bad one costs no more the next time.
 */
const lookup: Instr[] = [
  get(ILEN), i32.const(8), i32.geU,
  iff('long', [
    get(ISTART), i64.load(), set(X),
    get(ISTART), get(ILEN), i32.add, i32.const(8), i32.sub, i64.load(), set(Y),
  ], [
    get(ISTART), i64.load(), ...byteMask([get(ILEN)]), i64.and, set(X),
    i64.const(0n), set(Y),
  ]),
  get(X), get(Y), u64(0x9e3779b97f4a7c15n), i64.mul, i64.xor, get(ILEN), i64.extendI32U, i64.xor,
  u64(0xff51afd7ed558ccdn), i64.mul, i64.const(32n), i64.shrU, i32.wrapI64, tee(H),
  i32.const(DICT_SLOTS - 1), i32.and, set(SLOT),
  block('id-found',
    loop('probe',
      get(SLOT), i32.const(3), i32.shl, i32.const(LAYOUT.dict), i32.add, tee(A),
      i32.load(4), tee(SID), i32.eqz,
      iff('empty', [
        globalGet(IDS), i32.const(MAX_IDS), i32.geU,
        iff('full', [i32.const(-1), set(ID), br('id-found')]),
        globalGet(IDS), tee(ID), i32.const(1), i32.add, globalSet(IDS),
        // Copy the bytes, noting whether each may be in a name.
        i32.const(1), set(C),
        i32.const(0), set(K),
        block('copied',
          loop('copy',
            ...when([get(K), get(ILEN), i32.geU], 'copied'),
            ...stored(ID), get(K), i32.add,
            get(ISTART), get(K), i32.add, i32.load8u(), tee(N),
            i32.store8(),
            get(C), get(N), i32.const(LAYOUT.charClass), i32.add, i32.load8u(), i32.and, set(C),
            ...inc(K),
            br('copy'),
          ),
        ),
        ...indexed(ID), get(ILEN), i32.store(),
        ...indexed(ID), get(C), i32.store(4),
        get(A), get(H), i32.store(),
        get(A), get(ID), i32.const(1), i32.add, i32.store(4),
        br('id-found'),
      ]),
      get(A), i32.load(), get(H), i32.eq,
      iff('same-hash', [
        get(SID), i32.const(1), i32.sub, set(ID),
        ...indexed(ID), i32.load(), get(ILEN), i32.eq,
        iff('same-length', [
          block('differ',
            // The first 32 bytes by two vector compares (most names are shorter), then 8 at a time,
            // the last 0 to 7 under a mask (loads may read past a name: memory follows it).
            ...mask32Of(ISTART, stored(ID)), set(K),
            get(ILEN), i32.const(32), i32.ltU,
            iff('short-name', [
              i32.const(1), get(ILEN), i32.shl, i32.const(1), i32.sub, set(E),
              ...when([get(K), get(E), i32.and, get(E), i32.ne], 'differ'),
              br('id-found'),
            ]),
            ...when([get(K), i32.const(-1), i32.ne], 'differ'),
            i32.const(32), set(K),
            block('tail',
              loop('compare',
                ...when([get(K), i32.const(8), i32.add, get(ILEN), i32.gtU], 'tail'),
                get(ISTART), get(K), i32.add, i64.load(),
                ...stored(ID), get(K), i32.add, i64.load(),
                i64.ne, brIf('differ'),
                ...inc(K, 8),
                br('compare'),
              ),
            ),
            get(ISTART), get(K), i32.add, i64.load(),
            ...stored(ID), get(K), i32.add, i64.load(),
            i64.xor, ...byteMask([get(ILEN), get(K), i32.sub]), i64.and, i64.const(0n), i64.ne, brIf('differ'),
            br('id-found'),
          ),
        ]),
      ]),
      get(SLOT), i32.const(1), i32.add, i32.const(DICT_SLOTS - 1), i32.and, set(SLOT),
      br('probe'),
    ),
  ),
];

/**
 * Adds the line (ID, T, CLS, VIN, VOUT) to its instance-hour's sums.
 * When a new instance-hour finds no free slot, sets `full` and stops
 * before this line (branch to `done`): the caller drains and calls again.
 */
const account: Instr[] = [
  // The hour: the previous line's, mostly (a 64-bit division costs more than the rest of the line).
  get(T), get(HS), i64.sub, i64.const(3600n), i64.ltU,
  iff('same-hour', [], [
    get(T), i64.const(3600n), i64.divU, tee(X), i32.wrapI64, set(HR),
    get(X), i64.const(3600n), i64.mul, set(HS),
  ]),
  // The slot: the one of this instance's last line, mostly; else from the hour table.
  get(ID), i32.const(3), i32.shl, i32.const(LAYOUT.current), i32.add, tee(A),
  i32.load(), get(HR), i32.eq,
  iff('same-slot', [get(A), i32.load(4), set(SLOT)], [
    get(HR), i64.extendI32U, i64.const(12n), i64.shl, get(ID), i64.extendI32U, i64.or, i64.const(1n), i64.add, tee(Y),
    u64(0x9e3779b97f4a7c15n), i64.mul, i64.const(49n), i64.shrU, i32.wrapI64, set(K),
    block('slot-found',
      loop('slot-probe',
        get(K), i32.const(4), i32.shl, i32.const(LAYOUT.hours), i32.add, tee(E),
        i64.load(), tee(X), get(Y), i64.eq,
        iff('slot-hit', [get(E), i32.load(8), set(SLOT), br('slot-found')]),
        get(X), i64.const(0n), i64.eq,
        iff('slot-new', [
          globalGet(SLOTS), i32.const(MAX_SLOTS), i32.geU,
          iff('slots-full', [i32.const(1), globalSet(FULL), br('done')]),
          globalGet(SLOTS), tee(SLOT), i32.const(1), i32.add, globalSet(SLOTS),
          get(E), get(Y), i64.store(),
          get(E), get(SLOT), i32.store(8),
          get(SLOT), i32.const(3), i32.shl, i32.const(LAYOUT.slotKeys), i32.add, tee(E), get(ID), i32.store(),
          get(E), get(HR), i32.store(4),
          br('slot-found'),
        ]),
        get(K), i32.const(1), i32.add, i32.const(HOUR_TABLE - 1), i32.and, set(K),
        br('slot-probe'),
      ),
    ),
    get(A), get(HR), i32.store(),
    get(A), get(SLOT), i32.store(4),
  ]),
  get(SLOT), i32.const(SLOT_VALUES * 8), i32.mul, i32.const(LAYOUT.sums), i32.add, tee(A),
  get(A), f64.load(), f64.const(1), f64.add, f64.store(),
  get(A), get(A), f64.load(8), get(VIN), f64.convertI64S, f64.add, f64.store(8),
  get(A), get(A), f64.load(16), get(VOUT), f64.convertI64S, f64.add, f64.store(16),
  // Status class 1xx to 5xx (slots 3 to 7), else 8: chosen without a branch.
  get(A),
  get(CLS), i32.const(2), i32.add, i32.const(8), get(CLS), i32.const(1), i32.sub, i32.const(5), i32.ltU, select,
  i32.const(3), i32.shl, i32.add, tee(E),
  get(E), f64.load(), f64.const(1), f64.add, f64.store(),
];

/**
 * parse(start, end, final) → lines read. Reads the lines of [start, end);
 * `consumed` is then the address after the last line read. A line without
 * its newline is left for the next call unless `final` (the input ends
 * there). Stops early, with `full` set, when the slots are full.
 */
const parse: Instr[] = [
  i32.const(10), v128.i8x16Splat, set(NLV),
  i32.const(32), v128.i8x16Splat, set(SPV),
  get(START), tee(LS), globalSet(CONSUMED),
  i32.const(0), globalSet(FULL),
  // No hour yet: T - HS is never below 3600.
  u64(-(1n << 62n)), set(HS),
  block('done',
    loop('line',
      ...when([get(LS), get(END), i32.geU], 'done'),
      block('next',
        block('bad',
          block('good',
            block('slow', ...fast, br('good')),
            ...slow,
          ),
          // A line without its newline: the next call reads it whole, unless the input ends here.
          get(NL), get(END), i32.geU,
          iff('open', [...when([get(FINAL), i32.eqz], 'done')]),
          ...lookup,
          get(ID), i32.const(0), i32.ltS,
          iff('unknown', [...incGlobal(OVERFLOW), br('next')]),
          ...when([...indexed(ID), i32.load(4), i32.eqz], 'bad'),
          ...account,
          br('next'),
        ),
        // Malformed (the slow path found the line's end first), unless still being written.
        get(NL), get(END), i32.geU,
        iff('open-bad', [...when([get(FINAL), i32.eqz], 'done')]),
        ...incGlobal(MALFORMED),
      ),
      ...inc(LINES),
      get(NL), i32.const(1), i32.add, set(LS),
      get(LS), get(END), i32.gtU,
      iff('last', [get(END), globalSet(CONSUMED)], [get(LS), globalSet(CONSUMED)]),
      br('line'),
    ),
  ),
  get(LINES), ret,
];

/** The little of the WebAssembly JavaScript API used here (the project's `lib` setting does not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | undefined;

/** The compiled kernel (once per thread). */
function kernelModule(): object {
  compiled ??= new wasm.Module(assemble({
    memoryPages: Math.ceil(LAYOUT.end / 65536),
    globals: [...GLOBALS],
    functions: [{
      name: 'parse',
      params: ['i32', 'i32', 'i32'],
      results: ['i32'],
      locals: [...Array<'i32'>(I32_LOCALS).fill('i32'), ...Array<'i64'>(I64_LOCALS).fill('i64'), ...Array<'v128'>(V128_LOCALS).fill('v128')],
      body: parse,
    }],
  }));
  return compiled;
}

export type KernelGlobals = Record<(typeof GLOBALS)[number], { value: number }>;

export interface Kernel extends KernelGlobals {
  memory: { buffer: ArrayBuffer };
  parse(start: number, end: number, final: number): number;
}

/** A fresh kernel instance: its own memory, an empty dictionary, no sums. */
export function instantiateKernel(): Kernel {
  const exports = new wasm.Instance(kernelModule(), {}).exports as Kernel;
  const bytes = new Uint8Array(exports.memory.buffer);
  for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789_-') bytes[LAYOUT.charClass + c.charCodeAt(0)] = 1;
  clearSlots(exports);
  return exports;
}

/** Forgets every slot (after the caller took their sums): hour table, sums, each name's last slot. */
export function clearSlots(kernel: Kernel): void {
  const bytes = new Uint8Array(kernel.memory.buffer);
  bytes.fill(0, LAYOUT.hours, LAYOUT.input);
  new Int32Array(kernel.memory.buffer, LAYOUT.current, MAX_IDS * 2).fill(-1);
  kernel.slots.value = 0;
  kernel.full.value = 0;
}

/** The bytes of name `id` in the kernel's dictionary. */
export function identBytes(kernel: Kernel, id: number): Uint8Array {
  const length = new Int32Array(kernel.memory.buffer, LAYOUT.index + id * 8, 1)[0]!;
  return new Uint8Array(kernel.memory.buffer, LAYOUT.store + id * STORE_STRIDE, length);
}

/** Whether name `id` holds only bytes a name may. */
export function identValid(kernel: Kernel, id: number): boolean {
  return new Int32Array(kernel.memory.buffer, LAYOUT.index + id * 8 + 4, 1)[0] === 1;
}
