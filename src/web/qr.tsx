import QRCode from "qrcode";

/**
 * An authenticator's otpauth URI as a QR code, drawn as SVG by the renderer (the matrix from `qrcode`): no image
 * request and no script, so the strict CSP holds. Used by the hosted recovery and the security center.
 */
export function QrSvg(props: { text: string; label: string }) {
  const qr = QRCode.create(props.text, { errorCorrectionLevel: "M" });
  const n = qr.modules.size;
  const quiet = 4;
  let d = "";
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (qr.modules.get(y, x)) d += `M${x + quiet} ${y + quiet}h1v1h-1z`;
    }
  }
  const size = n + 2 * quiet;
  return (
    <svg
      class="qr"
      role="img"
      aria-label={props.label}
      viewBox={`0 0 ${size} ${size}`}
      width={size * 6}
      height={size * 6}
      shape-rendering="crispEdges"
      xmlns="http://www.w3.org/2000/svg"
    >
      <rect width={size} height={size} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}

/** A TOTP key as people type it: groups of four. */
export const groupedKey = (secret: string) => secret.replace(/(.{4})/g, "$1 ").trim();
