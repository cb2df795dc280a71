import QRCode, { type QRCodeToDataURLOptions, type QRCodeToStringOptions } from 'qrcode';

// Both images use error correction level M, which survives about 15% damage, and the 4-module
// quiet zone that the QR code standard requires.
const SVG_OPTIONS: QRCodeToStringOptions = { type: 'svg', errorCorrectionLevel: 'M', margin: 4 };
const PNG_OPTIONS: QRCodeToDataURLOptions = {
  type: 'image/png',
  errorCorrectionLevel: 'M',
  margin: 4,
  scale: 6,
};

/** A QR code of an `otpauth://` URI, as an SVG document and as a PNG `data:` URL. */
export interface TotpQrCode {
  svg: string;
  pngDataUrl: string;
}

/**
 * Renders the enrollment URI as QR codes for authenticator apps to scan. The images encode the
 * URI, so they carry the TOTP secret and must be treated like it.
 */
export async function renderTotpQrCode(otpauthUri: string): Promise<TotpQrCode> {
  const [svg, pngDataUrl] = await Promise.all([
    QRCode.toString(otpauthUri, SVG_OPTIONS),
    QRCode.toDataURL(otpauthUri, PNG_OPTIONS),
  ]);
  return { svg, pngDataUrl };
}

export const TOTP_QR_CODE_OPTIONS = { svg: SVG_OPTIONS, png: PNG_OPTIONS } as const;
