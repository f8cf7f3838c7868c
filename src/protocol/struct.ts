// Fixed-layout structures described once, as data: a table of fields (name
// and width, in wire order) gives every offset, the decoder and the encoder.
// The vfio structs are naturally aligned with no implied padding, so offsets
// follow from the order; a table that would need padding is refused when it
// is built. Field names are camelCase; messages name a field the way the
// specification spells it (numRegions -> num_regions).
//
// For the cold codecs (info queries, maps): reading returns a new object. The
// hot paths (region-rw.ts, dma-rw.ts) use only the table's offsets (`at`).

import { fail } from '../errors.js';
import { checkU16, checkU32, checkU64, readU16, readU32, readU64, writeU16, writeU32, writeU64, type U64 } from './wire.js';

export type FieldType = 'u16' | 'u32' | 'u64';
export type FieldList = readonly (readonly [name: string, type: FieldType])[];

type ValueOf<T extends FieldType> = T extends 'u64' ? bigint : number;
type ArgOf<T extends FieldType> = T extends 'u64' ? U64 : number;

/** A decoded structure: u16/u32 fields as numbers, u64 fields as bigints. */
export type StructValues<F extends FieldList> = { [E in F[number] as E[0]]: ValueOf<E[1]> };
/** Values to encode; a field left out stays as the buffer has it (zero in a new message). */
export type StructArgs<F extends FieldList> = { [E in F[number] as E[0]]?: ArgOf<E[1]> };
export type FieldName<F extends FieldList> = F[number][0];

const WIDTH: Record<FieldType, number> = { u16: 2, u32: 4, u64: 8 };

/** numRegions -> num_regions: the specification's spelling, for messages. */
function wireName(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

interface Field {
  name: string;
  type: FieldType;
  offset: number;
}

export class Struct<F extends FieldList> {
  /** What messages call the structure ("DEVICE_GET_INFO"). */
  readonly name: string;
  /** Bytes on the wire. */
  readonly size: number;
  /** Each field's offset from the structure's start. */
  readonly at: { readonly [E in F[number] as E[0]]: number };
  readonly #fields: Field[];

  constructor(name: string, fields: F) {
    this.name = name;
    const at: Record<string, number> = {};
    this.#fields = [];
    let offset = 0;
    for (const [field, type] of fields) {
      if (offset % WIDTH[type] !== 0) throw new RangeError(`${name}.${field}: a ${type} at ${offset} needs padding`);
      this.#fields.push({ name: field, type, offset });
      at[field] = offset;
      offset += WIDTH[type];
    }
    this.size = offset;
    this.at = at as Struct<F>['at'];
  }

  /** Reads every field of the structure at `base` (the caller has checked the length). */
  read(b: Uint8Array, base = 0): StructValues<F> {
    const v: Record<string, number | bigint> = {};
    for (const f of this.#fields) {
      const o = base + f.offset;
      v[f.name] = f.type === 'u64' ? readU64(b, o) : f.type === 'u32' ? readU32(b, o) : readU16(b, o);
    }
    return v as StructValues<F>;
  }

  /** Writes the fields given, each checked against its width (EINVAL). */
  write(b: Uint8Array, values: StructArgs<F>, base = 0): void {
    const given = values as Record<string, U64 | undefined>;
    for (const f of this.#fields) {
      const v = given[f.name];
      if (v === undefined) continue;
      const label = `${this.name} ${wireName(f.name)}`;
      const o = base + f.offset;
      if (f.type === 'u64') writeU64(b, o, checkU64(v, label));
      else if (typeof v !== 'number') throw fail('EINVAL', `${label} must be a number`);
      else if (f.type === 'u32') writeU32(b, o, checkU32(v, label));
      else writeU16(b, o, checkU16(v, label));
    }
  }

  /** EINVAL unless each of `fields` is zero in `v` (fields a request leaves reserved). */
  requireZero(v: StructValues<F>, fields: readonly FieldName<F>[]): void {
    const got = v as Record<string, number | bigint>;
    for (const f of fields) {
      const x = got[f];
      if (x !== 0 && x !== 0n) throw fail('EINVAL', `${this.name} ${wireName(f)} must be zero, got ${x}`);
    }
  }
}

/** Describes a structure by its fields in wire order: `struct('X', [['argsz', 'u32'], ['size', 'u64']])`. */
export function struct<const F extends FieldList>(name: string, fields: F): Struct<F> {
  return new Struct(name, fields);
}
