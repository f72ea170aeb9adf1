/**
 * NMEA-0183 style checksum: the XOR of every byte of a frame body, as two uppercase hex
 * digits. A string is taken one byte per character (latin1), which is how the line framer
 * decodes the wire, so a received line checks against exactly the bytes that arrived.
 */
export function xorChecksum(body: string | Buffer): string {
  let sum = 0;
  if (typeof body === 'string') {
    for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i) & 0xff;
  } else {
    for (const byte of body) sum ^= byte;
  }
  return sum.toString(16).toUpperCase().padStart(2, '0');
}
