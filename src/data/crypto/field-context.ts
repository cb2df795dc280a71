import { CryptoParameterError } from './errors.js';
import { encodeLengthPrefixed } from './length-prefixed.js';

/** Location of one encrypted value: which tenant, table, column and row it belongs to. */
export interface FieldLocation {
  /** Organization id that owns the row. */
  tenant: string;
  table: string;
  column: string;
  /** Primary key of the row, as a string. */
  rowId: string;
}

/** Associated data bound into every field ciphertext: the location plus the key version used. */
export interface FieldContext extends FieldLocation {
  keyId: string;
  keyVersion: number;
}

const FIELD_AAD_LABEL = 'mindweave/field-aad/v1';

/**
 * Rejects a location with an empty or non-string part. An empty row id would bind every row
 * without an id to the same associated data, so a value could be moved between them.
 *
 * @throws CryptoParameterError naming the first invalid part.
 */
export function validateFieldLocation(location: FieldLocation): void {
  for (const part of ['tenant', 'table', 'column', 'rowId'] as const) {
    const value: unknown = location[part];
    if (typeof value !== 'string' || value.length === 0) {
      throw new CryptoParameterError(
        `invalid field location: ${part} must be a non-empty string, got ${JSON.stringify(value)}`,
      );
    }
  }
}

/**
 * Encodes a field context as AES-GCM associated data.
 *
 * Each field is length-prefixed, so no two different contexts encode to the same bytes. A
 * ciphertext copied to another tenant, table, column or row, or relabelled with another key
 * version, therefore fails authentication.
 */
export function encodeFieldAad(context: FieldContext): Buffer {
  return encodeLengthPrefixed([
    FIELD_AAD_LABEL,
    context.tenant,
    context.table,
    context.column,
    context.rowId,
    context.keyId,
    context.keyVersion,
  ]);
}
