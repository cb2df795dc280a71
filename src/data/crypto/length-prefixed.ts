/** A value that {@link encodeLengthPrefixed} can encode. */
export type EncodableField = string | number | Uint8Array;

const MAX_FIELD_BYTES = 0xffff_ffff;

function checkInteger(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`invalid integer field ${value}: expected a non-negative safe integer`);
  }
}

function fieldLength(value: EncodableField): number {
  if (typeof value === 'string') {
    return Buffer.byteLength(value, 'utf8');
  }
  if (typeof value === 'number') {
    checkInteger(value);
    return 8;
  }
  return value.length;
}

/**
 * Encodes a sequence of fields as `u32be(length) || bytes` for each field in order.
 *
 * Every field carries its own length, so no two different sequences share an encoding (for
 * example `["ab", "c"]` and `["a", "bc"]` differ). Strings are UTF-8 and numbers are unsigned
 * 64-bit big-endian. The first field should be a fixed label that names the structure and its version.
 */
export function encodeLengthPrefixed(fields: readonly EncodableField[]): Buffer {
  // Sizes are computed first so the output is written into one allocation, because this runs on
  // every field encryption and decryption.
  const lengths = fields.map(fieldLength);
  let total = 0;
  for (const length of lengths) {
    if (length > MAX_FIELD_BYTES) {
      throw new RangeError(`field of ${length} bytes exceeds the 2^32-1 byte limit`);
    }
    total += 4 + length;
  }
  const output = Buffer.allocUnsafe(total);
  let offset = 0;
  fields.forEach((field, index) => {
    const length = lengths[index] ?? 0;
    offset = output.writeUInt32BE(length, offset);
    if (typeof field === 'string') {
      offset += output.write(field, offset, 'utf8');
    } else if (typeof field === 'number') {
      offset = output.writeBigUInt64BE(BigInt(field), offset);
    } else {
      output.set(field, offset);
      offset += length;
    }
  });
  return output;
}

/**
 * Encodes a string map with keys in sorted order, as length-prefixed key/value pairs after the
 * label. Two maps with the same entries always encode the same way.
 */
export function encodeStringMap(label: string, map: Readonly<Record<string, string>>): Buffer {
  const fields: EncodableField[] = [label];
  // Sort by UTF-16 code units, which is deterministic for any input.
  for (const key of Object.keys(map).sort()) {
    fields.push(key, map[key] ?? '');
  }
  return encodeLengthPrefixed(fields);
}
