// Locating the empty line that ends a header block, shared by the datagram parser and the stream framer.

/**
 * Index of the first body byte after the header block in `buf[from, end)`: the block ends at the
 * first empty line, i.e. LF followed by CRLF or by a lone LF (bare-LF senders are tolerated). Returns
 * -1 if there is none yet; a later search over more data may resume at `end - 2`, since at most
 * `\n\r` of a terminator can sit unrecognised at the end.
 */
export function findBodyStart(buf: Buffer, from: number, end: number): number {
  for (let i = buf.indexOf(10, from); i !== -1 && i < end; i = buf.indexOf(10, i + 1)) {
    const next = i + 1 < end ? buf[i + 1] : undefined;
    if (next === 10) return i + 2;
    if (next === 13 && i + 2 < end && buf[i + 2] === 10) return i + 3;
  }
  return -1;
}
