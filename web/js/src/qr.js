// The entry of web/static/qr.js: draws a QR code (uqr, after Nayuki's
// encoder) as an SVG element, made through the DOM so that the strict
// content security policy needs no inline style.
import { encode } from 'uqr';

const SVG = 'http://www.w3.org/2000/svg';

/** qrCode returns an <svg> of text's QR code, with a four-module margin. */
function qrCode(text, label) {
  const { data, size } = encode(text, { ecc: 'M', border: 4 });
  let d = '';
  data.forEach((row, y) => row.forEach((dark, x) => { if (dark) d += `M${x} ${y}h1v1h-1z`; }));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', size);
  bg.setAttribute('height', size);
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}

globalThis.primaryvoteQR = Object.freeze({ qrCode });
