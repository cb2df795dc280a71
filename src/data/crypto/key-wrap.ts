import { aesGcmDecrypt, aesGcmEncrypt, concatSealed, splitSealed } from './aes-gcm.js';
import { encodeLengthPrefixed } from './length-prefixed.js';
import type { KeyOwner, KeyPurpose } from './key-types.js';

/** Identity of a wrapped key, bound into the wrap as associated data. */
export interface WrappedKeyIdentity {
  keyId: string;
  purpose: KeyPurpose;
  version: number;
  owner: KeyOwner;
}

const WRAP_AAD_LABEL = 'mindweave/key-wrap/v1';

/** Encodes a wrapped key's identity as AES-GCM associated data. */
export function encodeWrapAad(identity: WrappedKeyIdentity): Buffer {
  const owner = identity.owner;
  return encodeLengthPrefixed([
    WRAP_AAD_LABEL,
    identity.keyId,
    identity.purpose,
    identity.version,
    owner.kind,
    owner.kind === 'system' ? '' : owner.tenant,
    owner.kind === 'subject' ? owner.subject : '',
  ]);
}

/**
 * Wraps `keyMaterial` under `wrappingKey` with AES-256-GCM and returns `iv || ciphertext || tag`.
 * The associated data names the child key's id, purpose, version and owner, so a wrapped key
 * swapped into another record fails to unwrap.
 */
export function wrapKey(
  wrappingKey: Uint8Array,
  keyMaterial: Uint8Array,
  identity: WrappedKeyIdentity,
): Buffer {
  return concatSealed(aesGcmEncrypt(wrappingKey, keyMaterial, encodeWrapAad(identity)));
}

/**
 * Unwraps a key produced by {@link wrapKey} for the same identity.
 *
 * @throws DecryptionError when the wrapped bytes or the identity do not match.
 */
export function unwrapKey(
  wrappingKey: Uint8Array,
  wrappedKey: Uint8Array,
  identity: WrappedKeyIdentity,
): Buffer {
  const sealed = splitSealed(wrappedKey);
  return aesGcmDecrypt(wrappingKey, sealed.iv, sealed.ciphertext, sealed.tag, encodeWrapAad(identity));
}
